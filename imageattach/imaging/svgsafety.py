"""Refuse SVG uploads that carry active content.

An SVG is a document, not just a picture: opened directly from the app's
origin it can run script, load other documents and navigate.  imageattach's
own middleware serves SVG with a restrictive ``Content-Security-Policy``, but
nginx, a CDN or S3 serving the same file sends no such header, so the file
itself must be inert.  :func:`check_active_content` refuses (never rewrites:
a rewritten file could differ subtly from what was checked) an SVG with:

- ``script``, ``handler``, ``listener`` elements, and elements that embed
  other documents or media (``foreignObject``, ``iframe``, ``embed``,
  ``object``, ``audio``, ``video``, ...), in any namespace;
- event handler attributes (any attribute whose name starts with ``on``);
- ``javascript:`` in any attribute value;
- references to other documents: ``href``/``src``-like attributes other
  than ``#fragment`` or an inline PNG/JPEG/GIF/WebP ``data:`` image,
  ``url(...)`` other than ``url(#fragment)`` in any attribute or style
  sheet, ``@import`` and URL-taking CSS functions in style sheets, the
  ``xml-stylesheet`` processing instruction and external entities;
- animations (``attributeName``) of links or event handlers.

Names are compared by local name, case-insensitively, so ``svg:script``,
``html:script`` and ``SCRIPT`` are all caught.
"""

from __future__ import annotations

import re
from typing import NoReturn
from xml.parsers import expat

from ..exceptions import CorruptImageError, ImageError, UnsupportedImageError

__all__ = ["check_active_content"]

#: Elements that run script.
_SCRIPT_ELEMENTS = frozenset({"script", "handler", "listener"})

#: Elements that embed another document or media, by local name (lower case)
#: → name as written in messages.  ``meta`` is here for ``http-equiv`` refresh.
_EMBEDDING_ELEMENTS = {
    name.lower(): name
    for name in (
        "foreignObject", "iframe", "frame", "frameset", "embed", "object",
        "applet", "portal", "audio", "video", "meta",
    )
}  # fmt: skip

#: Attributes whose value is a URL that is fetched or navigated to (``base``
#: is ``xml:base``, which would make ``#fragment`` references external).
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "srcset", "base", "action", "formaction", "data", "poster", "background"}
)

#: ``data:`` URLs that are accepted in URL attributes: raster images only
#: (an SVG ``data:`` URL could carry a script of its own).
_RASTER_DATA_URLS = tuple(f"data:image/{kind};base64," for kind in ("png", "jpeg", "gif", "webp"))

#: Attributes whose value is parsed as a style sheet declaration block.
_CSS_ATTRIBUTES = frozenset({"style", "cursor"})

#: Work budget: the content expat reports (names, attribute values, text, with
#: entities and default attributes expanded) may be at most this many times the
#: input, plus the allowance.  Without entities it is about the input's size.
_EXPANSION_FACTOR = 16
_EXPANSION_ALLOWANCE = 1 << 20
_TOO_MUCH_EXPANSION = "SVG whose entities expand to too much content is not accepted"

#: expat 2.4+ stops "billion laughs" expansion itself (the limit Python's
#: bundled expat has); with an older system expat, entities are refused.
_EXPAT_LIMITS_AMPLIFICATION = expat.version_info >= (2, 4, 0)

#: The code of that limit's error.
_AMPLIFICATION_ERROR = expat.errors.codes.get(
    getattr(expat.errors, "XML_ERROR_AMPLIFICATION_LIMIT_BREACH", ""), -1
)

#: A CSS escape: hex digits and one optional whitespace, an escaped newline
#: (removed), any other escaped character, or a backslash at the very end.
#: Each alternative matches at most 9 characters: the scan is linear.
_CSS_ESCAPE = re.compile(
    r"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\n\r\f])?|(\r\n|[\n\r\f])|(.)|\Z)", re.S
)

#: ``url(`` not followed (after whitespace and an optional quote) by ``#``.
#: The quantifiers are possessive: ``url("#a")`` cannot match by backtracking
#: over the quote.
_EXTERNAL_URL = re.compile(r"url\([\t\n\f\r ]*+[\"']?+(?!#)")

#: CSS that fetches without ``url(``: ``@import "x"``, ``image-set("x" 1x)``,
#: ``image("x")``, ``src("x")``.
_CSS_FETCHES = re.compile(r"@import|image-set\(|(?<![\w-])image\(|(?<![\w-])src\(")

#: Removed before looking for ``javascript:``: ASCII whitespace and controls,
#: which URL parsers drop or ignore (``java&#9;script:`` is ``javascript:``).
_URL_IGNORED = dict.fromkeys(range(0x21))

#: Removed anywhere from URL attribute values, as URL parsers do.
_TAB_NEWLINE = dict.fromkeys(map(ord, "\t\n\r"))

#: Stripped from both ends of URL attribute values, as URL parsers do.
_CONTROLS_AND_SPACE = "".join(map(chr, range(0x21)))


def check_active_content(data: bytes) -> None:
    """Raise :exc:`UnsupportedImageError` if the SVG ``data`` can run script
    or load anything else (see the module docstring for the list) or is in a
    character encoding the parser cannot read, or :exc:`CorruptImageError` if
    it is not well-formed XML.

    Nothing is fetched, and the time taken is linear in ``len(data)``.
    """
    checker = _Checker(_EXPANSION_FACTOR * len(data) + _EXPANSION_ALLOWANCE)
    parser = expat.ParserCreate(namespace_separator=" ")
    # Internal entities are accepted: Illustrator declares the namespaces it
    # uses as entities (<!ENTITY ns_svg "http://www.w3.org/2000/svg">).  expat
    # expands them and reports the expanded elements, attributes and text to
    # the handlers below, so an entity hiding <script> is checked like any
    # other content (and so are default attributes from <!ATTLIST>).  External
    # entities are refused where they are declared, and parameter entities too,
    # since they only serve to build declarations from other declarations or
    # files; the external DTD subset is never read (parameter entity parsing is
    # off, and no external entity handler fetches anything).  Exponential
    # expansion ("billion laughs") is stopped by expat's amplification limit,
    # quadratic expansion by that limit or by the checker's budget, which also
    # counts what the limit does not: a large <!ATTLIST> default attribute
    # copied onto every element.
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = checker.entity_declaration
    parser.ExternalEntityRefHandler = checker.external_entity
    parser.ProcessingInstructionHandler = checker.processing_instruction
    parser.StartElementHandler = checker.start_element
    parser.EndElementHandler = checker.end_element
    parser.CharacterDataHandler = checker.text
    parser.buffer_text = True
    # Default attributes declared in the DTD are reported with the others.
    parser.specified_attributes = False
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        if error.code == _AMPLIFICATION_ERROR:
            raise UnsupportedImageError(_TOO_MUCH_EXPANSION) from None
        raise CorruptImageError(f"invalid SVG: {error}") from None
    except ImageError:
        raise
    except (ValueError, LookupError):
        # pyexpat itself raises these for a declared encoding it cannot use
        # (multi-byte ones other than UTF-8/16, or unknown names).  Every
        # encoding it does use decodes ASCII bytes as ASCII, or is UTF-16
        # recognised by its byte order mark as browsers do, so markup reads
        # the same to this check and to a browser.
        raise UnsupportedImageError("SVG in this character encoding is not accepted") from None


class _Checker:
    """The expat handlers; each raises :exc:`UnsupportedImageError` at the
    first active content it sees."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        #: Per open element: the text chunks of a ``<style>`` element (its own
        #: text, not its descendants', as browsers read it), else None.
        self._open: list[list[str] | None] = []

    def _spend(self, amount: int) -> None:
        self._budget -= amount
        if self._budget < 0:
            raise UnsupportedImageError(_TOO_MUCH_EXPANSION)

    def entity_declaration(
        self,
        name: str,
        is_parameter_entity: bool,
        value: str | None,
        base: str | None,
        system_id: str | None,
        public_id: str | None,
        notation_name: str | None,
    ) -> None:
        if system_id is not None or public_id is not None or notation_name is not None:
            _refuse_reference("external entity")
        if is_parameter_entity:
            raise UnsupportedImageError("SVG with parameter entities is not accepted")
        if not _EXPAT_LIMITS_AMPLIFICATION:
            raise UnsupportedImageError("SVG with entity declarations is not accepted")

    def external_entity(
        self, context: str, base: str | None, system_id: str | None, public_id: str | None
    ) -> int:
        _refuse_reference("external entity")

    def processing_instruction(self, target: str, data: str) -> None:
        self._spend(len(target) + len(data))
        if target.lower() == "xml-stylesheet":
            _refuse_reference("xml-stylesheet instruction")

    def start_element(self, name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition(" ")[2]
        element = local.lower()
        self._spend(len(name))
        if element in _SCRIPT_ELEMENTS:
            raise UnsupportedImageError(f"SVG with scripts is not accepted (<{element}> element)")
        if element in _EMBEDDING_ELEMENTS:
            raise UnsupportedImageError(
                f"SVG with embedded content is not accepted "
                f"(<{_EMBEDDING_ELEMENTS[element]}> element)"
            )
        for key, value in attributes.items():
            self._spend(len(key) + len(value))
            _check_attribute(key.rpartition(" ")[2], value)
        self._open.append([] if element == "style" else None)

    def end_element(self, name: str) -> None:
        chunks = self._open.pop()
        if chunks is not None:
            _check_css("".join(chunks), "a style sheet")

    def text(self, data: str) -> None:
        self._spend(len(data))
        chunks = self._open[-1] if self._open else None
        if chunks is not None:
            chunks.append(data)


def _check_attribute(local: str, value: str) -> None:
    """Refuse the attribute ``local="value"`` if it is active content."""
    attribute = local.lower()
    shown = local if len(local) <= 40 else local[:40] + "..."
    if attribute.startswith("on"):
        raise UnsupportedImageError(f"SVG with scripts is not accepted ({shown} attribute)")
    if "javascript:" in value.translate(_URL_IGNORED).lower():
        raise UnsupportedImageError("SVG with scripts is not accepted (javascript: link)")
    if attribute in _URL_ATTRIBUTES and not _is_inline_url(value):
        _refuse_reference(f"{shown} attribute")
    if attribute == "attributename":
        target = value.strip().rpartition(":")[2].lower()
        # The value is named in the message only when it is a known name: the
        # message may reach a page, and the value could be any text.
        if target in _URL_ATTRIBUTES:
            raise UnsupportedImageError(
                f"SVG that animates links is not accepted (animation of {target})"
            )
        if target.startswith("on"):
            raise UnsupportedImageError(
                "SVG with scripts is not accepted (animation of an event handler)"
            )
    if attribute in _CSS_ATTRIBUTES:
        _check_css(value, f"the {attribute} attribute")
    elif "(" in value and _EXTERNAL_URL.search(_unescape_css(value).lower()):
        _refuse_reference(f"url() in the {shown} attribute")


def _is_inline_url(value: str) -> bool:
    """Whether the URL ``value`` stays in the document: empty, a ``#fragment``
    or an inline raster image."""
    url = value.translate(_TAB_NEWLINE).strip(_CONTROLS_AND_SPACE)
    return not url or url.startswith("#") or url.lower().startswith(_RASTER_DATA_URLS)


def _check_css(css: str, where: str) -> None:
    """Refuse style sheet text that fetches anything but ``url(#fragment)``."""
    css = _unescape_css(css).lower()
    if _EXTERNAL_URL.search(css):
        _refuse_reference(f"url() in {where}")
    found = _CSS_FETCHES.search(css)
    if found:
        _refuse_reference(f"{found.group()}{')' if found.group().endswith('(') else ''} in {where}")


def _unescape_css(text: str) -> str:
    """``text`` with CSS backslash escapes decoded, so that ``u\\72l(`` is
    seen as the ``url(`` it is to a browser."""
    if "\\" not in text:
        return text
    return _CSS_ESCAPE.sub(_unescape_one, text)


def _unescape_one(match: re.Match[str]) -> str:
    digits, newline, character = match.groups()
    if digits is not None:
        code = int(digits, 16)
        return chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else "\ufffd"
    if newline is not None:
        return ""
    return character if character is not None else "\ufffd"


def _refuse_reference(what: str) -> NoReturn:
    raise UnsupportedImageError(f"SVG that refers to other files or pages is not accepted ({what})")
