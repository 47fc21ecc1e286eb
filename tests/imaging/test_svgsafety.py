"""check_active_content refuses SVG that can run script or load anything
else, accepts the SVG that drawing programs write, and stays fast and within
its two exceptions on hostile input."""

from __future__ import annotations

import base64
import contextlib
import encodings.aliases
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from images import png, svg

from imageattach.exceptions import CorruptImageError, UnsupportedImageError
from imageattach.imaging.svgsafety import check_active_content

SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'
XLINK_NS = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
HTML_NS = 'xmlns:html="http://www.w3.org/1999/xhtml"'
PNG_URL = "data:image/png;base64," + base64.b64encode(png(4, 4)).decode()


def doc(body: str, *, prolog: str = "", attributes: str = "") -> bytes:
    """An SVG document with ``body`` inside its root element."""
    return f"{prolog}<svg {SVG_NS} {XLINK_NS} {HTML_NS} {attributes}>{body}</svg>".encode()


def refused(data: bytes, *words: str) -> None:
    """``data`` is refused with a message that contains every one of ``words``."""
    with pytest.raises(UnsupportedImageError) as caught:
        check_active_content(data)
    message = str(caught.value)
    assert message.startswith("SVG "), message
    for word in words:
        assert word in message


# -- refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "<script>alert(1)</script>",
        "<script href='https://evil.example/x.js'/>",
        "<html:script>alert(1)</html:script>",
        "<SCRIPT xmlns='urn:other'>alert(1)</SCRIPT>",
        "<g><g><script><![CDATA[alert(1)]]></script></g></g>",
    ],
    ids=["svg", "external", "html-namespace", "upper-case-other-namespace", "nested-cdata"],
)
def test_script_elements(body: str) -> None:
    refused(doc(body), "scripts", "<script>")


@pytest.mark.parametrize("element", ["handler", "listener"])
def test_xml_events_elements(element: str) -> None:
    body = f'<{element} xmlns="http://www.w3.org/2001/xml-events" event="load"/>'
    refused(doc(body), "scripts", f"<{element}>")


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("<foreignObject><html:p>hi</html:p></foreignObject>", "<foreignObject>"),
        ("<html:iframe src='https://evil.example/'/>", "<iframe>"),
        ("<html:iframe srcdoc='&lt;script&gt;alert(1)&lt;/script&gt;'/>", "<iframe>"),
        ("<html:frame/>", "<frame>"),
        ("<html:embed type='image/svg+xml'/>", "<embed>"),
        ("<html:object/>", "<object>"),
        ("<html:audio/>", "<audio>"),
        ("<video/>", "<video>"),
        ("<html:meta http-equiv='refresh' content='0;https://evil.example/'/>", "<meta>"),
    ],
)
def test_embedding_elements(body: str, shown: str) -> None:
    refused(doc(body), "embedded content", shown)


@pytest.mark.parametrize(
    ("attributes", "body", "shown"),
    [
        ('onload="alert(1)"', "", "onload"),
        ("", '<rect width="1" height="1" onclick="alert(1)"/>', "onclick"),
        ("", '<rect ONMOUSEOVER="alert(1)"/>', "ONMOUSEOVER"),
        ("", '<rect xmlns:x="urn:x" x:onload="alert(1)"/>', "onload"),
        ("", '<html:body onpageshow="alert(1)"/>', "onpageshow"),
    ],
)
def test_event_handler_attributes(attributes: str, body: str, shown: str) -> None:
    refused(doc(body, attributes=attributes), "scripts", shown)


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example/x.svg#a",
        "//evil.example/x.svg#a",
        "other.svg#a",
        "/etc/passwd",
        "file:///etc/passwd",
        "  \n https://evil.example/",
        "data:image/svg+xml;base64,PHN2Zy8+",
        "data:text/html,hi",
        "data:image/png,rawbytes",
        "?query",
    ],
)
@pytest.mark.parametrize("attribute", ["href", "xlink:href"])
def test_external_references_in_href(attribute: str, value: str) -> None:
    refused(doc(f'<use {attribute}="{value}"/>'), "other files", "href attribute")


@pytest.mark.parametrize(
    "body",
    [
        '<a href="https://evil.example/">click</a>',
        '<image href="https://tracker.example/pixel.png" width="1" height="1"/>',
        '<filter id="f"><feImage xlink:href="https://evil.example/x.png"/></filter>',
        '<html:img src="https://tracker.example/pixel.png"/>',
        '<html:form action="https://evil.example/"/>',
        '<g xml:base="https://evil.example/"><use href="#a"/></g>',
    ],
    ids=["link", "image", "feImage", "img-src", "form-action", "xml-base"],
)
def test_external_references_in_other_elements(body: str) -> None:
    refused(doc(body), "other files", "attribute")


@pytest.mark.parametrize(
    "body",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a xlink:href="  JavaScript:alert(1)">x</a>',
        '<a href="java&#x9;script:alert(1)">x</a>',
        '<rect class="javascript:alert(1)"/>',
        '<set attributeName="fill" to="java&#10;script:alert(1)"/>',
    ],
    ids=["href", "xlink-case-space", "char-reference-tab", "any-attribute", "newline"],
)
def test_javascript_urls(body: str) -> None:
    refused(doc(body), "scripts", "javascript:")


@pytest.mark.parametrize(
    "body",
    [
        '<rect fill="url(https://evil.example/x.svg#g)"/>',
        "<rect fill=\"url( 'https://evil.example/x.svg#g' )\"/>",
        '<rect fill="url(\n &quot;//evil.example/g&quot;)"/>',
        '<rect fill="URL(other.svg#g)"/>',
        '<rect fill="red" filter="url(#f) url(other.svg#f)"/>',
        '<rect fill="u\\72l(https://evil.example/)"/>',
        '<rect style="fill: url(https://evil.example/x.svg#g)"/>',
        '<rect style="fill: \\75 \\72 \\6c (https://evil.example/)"/>',
        '<rect cursor="url(https://evil.example/c.cur), auto"/>',
        '<animate attributeName="fill" values="red;url(https://evil.example/#g)"/>',
    ],
    ids=[
        "bare",
        "quoted-spaced",
        "double-quoted-newline",
        "upper-case",
        "second-of-two",
        "escaped",
        "style-attribute",
        "style-attribute-escaped",
        "cursor",
        "animation-values",
    ],
)
def test_url_references_in_attributes(body: str) -> None:
    refused(doc(body), "other files", "url()")


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ("<style>rect { fill: url(https://evil.example/g) }</style>", "url()"),
        ("<style><![CDATA[rect { fill: url( '//evil.example/g' ) }]]></style>", "url()"),
        ("<style>rect { fill: ur<!-- split -->l(https://evil.example/) }</style>", "url()"),
        ("<style>rect { fill: ur<g>ignored</g>l(https://evil.example/) }</style>", "url()"),
        ("<style>@font-face { src: url(https://evil.example/f.woff) }</style>", "url()"),
        ("<html:style>p { background: url(https://evil.example/) }</html:style>", "url()"),
        ('<style>@import "https://evil.example/x.css";</style>', "@import"),
        ("<style>@IMPORT url(#x);</style>", "@import"),
        ('<style>@\\69mport "x.css";</style>', "@import"),
        (
            '<style>g { mask-image: image-set("https://evil.example/m.png" 1x) }</style>',
            "image-set",
        ),
        ('<rect style="background: -webkit-image-set(&quot;x.png&quot; 1x)"/>', "image-set"),
    ],
    ids=[
        "url",
        "cdata-quoted",
        "split-by-comment",
        "split-by-element",
        "font-face",
        "html-style",
        "import-string",
        "import-upper-case",
        "import-escaped",
        "image-set",
        "image-set-in-style-attribute",
    ],
)
def test_css_fetches(body: str, shown: str) -> None:
    refused(doc(body), "other files", shown)


@pytest.mark.parametrize(
    "body",
    [
        '<a><set attributeName="href" to="javascript:alert(1)"/><text>x</text></a>',
        '<a><animate attributeName="xlink:href" values="https://evil.example/"/></a>',
        '<a><animate attributeName=" href " values="#a;#b"/></a>',
        '<rect><set attributeName="onclick" to="alert(1)"/></rect>',
        '<rect><animateTransform attributeName="OnMouseOver" from="0" to="1"/></rect>',
    ],
    ids=["set-href", "animate-xlink-href", "spaced", "set-onclick", "animate-transform"],
)
def test_animation_of_links_and_handlers(body: str) -> None:
    refused(doc(body), "animat")


def test_messages_do_not_repeat_values_from_the_file() -> None:
    """The message may be shown on a page: no markup from the file gets in."""
    body = '<rect><set attributeName="on&lt;b&gt;x" to="1"/></rect>'
    with pytest.raises(UnsupportedImageError) as caught:
        check_active_content(doc(body))
    assert "<b>" not in str(caught.value)


@pytest.mark.parametrize(
    "prolog",
    [
        '<?xml version="1.0"?>\n<?xml-stylesheet type="text/xsl" href="#x"?>\n',
        '<?xml-stylesheet href="https://evil.example/s.css"?>',
        '<!DOCTYPE svg [<?xml-stylesheet href="s.css"?>]>',
    ],
    ids=["xslt", "css", "in-doctype"],
)
def test_xml_stylesheet_instruction(prolog: str) -> None:
    refused(doc("", prolog=prolog), "other files", "xml-stylesheet")


def test_xml_stylesheet_instruction_inside_the_document() -> None:
    refused(doc('<?xml-stylesheet href="s.css"?>'), "xml-stylesheet")


# -- entities and the DTD ------------------------------------------------------------


def test_script_hidden_in_an_internal_entity_is_found() -> None:
    prolog = '<!DOCTYPE svg [<!ENTITY x "<g><script>alert(1)</script></g>">]>'
    refused(doc("&x;", prolog=prolog), "<script>")


def test_handler_hidden_in_an_internal_entity_is_found() -> None:
    prolog = "<!DOCTYPE svg [<!ENTITY x \"<rect onclick='alert(1)'/>\">]>"
    refused(doc("&x;", prolog=prolog), "onclick")


def test_url_hidden_in_an_entity_in_an_attribute_is_found() -> None:
    prolog = '<!DOCTYPE svg [<!ENTITY u "https://evil.example/">]>'
    refused(doc('<use href="&u;x.svg#a"/>', prolog=prolog), "href")


def test_css_split_across_entities_is_found() -> None:
    prolog = '<!DOCTYPE svg [<!ENTITY a "ur"><!ENTITY b "l(https://evil.example/)">]>'
    refused(doc("<style>rect { fill: &a;&b; }</style>", prolog=prolog), "url()")


def test_default_attributes_from_the_dtd_are_checked() -> None:
    prolog = '<!DOCTYPE svg [<!ATTLIST svg onload CDATA "alert(1)">]>'
    refused(doc("", prolog=prolog), "onload")


@pytest.mark.parametrize(
    "declaration",
    [
        '<!ENTITY e SYSTEM "file:///etc/passwd">',
        '<!ENTITY e PUBLIC "-//evil//x" "https://evil.example/e.xml">',
        '<!ENTITY e SYSTEM "https://evil.example/i.png" NDATA png>',
    ],
    ids=["system", "public", "unparsed"],
)
def test_external_entities(declaration: str) -> None:
    prolog = f'<!DOCTYPE svg [<!NOTATION png SYSTEM "image/png">{declaration}]>'
    refused(doc("", prolog=prolog), "other files", "external entity")


@pytest.mark.parametrize(
    "declaration",
    ["<!ENTITY % p \"<!ENTITY x '<script/>'>\"> %p;", '<!ENTITY % p SYSTEM "x.dtd"> %p;'],
    ids=["internal", "external"],
)
def test_parameter_entities(declaration: str) -> None:
    with pytest.raises(UnsupportedImageError, match="entit"):
        check_active_content(doc("&x;", prolog=f"<!DOCTYPE svg [{declaration}]>"))


def test_billion_laughs_fails_fast() -> None:
    """Ten levels of ten references: 3 GB if expanded."""
    levels = "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    prolog = f'<!DOCTYPE svg [<!ENTITY a0 "lol">{levels}]>'
    started = time.perf_counter()
    with pytest.raises(UnsupportedImageError, match="expand"):
        check_active_content(doc("<text>&a9;</text>", prolog=prolog))
    assert time.perf_counter() - started < 1


def test_quadratic_entity_expansion_fails_fast() -> None:
    """One 100 kB entity referenced 100,000 times: 10 GB if expanded (stopped
    by expat's limit or the checker's budget, whichever comes first)."""
    prolog = f'<!DOCTYPE svg [<!ENTITY big "{"x" * 100_000}">]>'
    started = time.perf_counter()
    with pytest.raises(UnsupportedImageError, match="expand"):
        check_active_content(doc(f"<text>{'&big;' * 100_000}</text>", prolog=prolog))
    assert time.perf_counter() - started < 2


def test_quadratic_default_attributes_fail_fast() -> None:
    """A 100 kB default attribute on each of 100,000 elements."""
    prolog = f'<!DOCTYPE svg [<!ATTLIST g class CDATA "{"x" * 100_000}">]>'
    started = time.perf_counter()
    with pytest.raises(UnsupportedImageError, match="expand"):
        check_active_content(doc("<g/>" * 100_000, prolog=prolog))
    assert time.perf_counter() - started < 2


def test_external_dtd_is_not_fetched_and_its_entities_are_skipped() -> None:
    prolog = '<!DOCTYPE svg SYSTEM "https://evil.example/svg.dtd">'
    check_active_content(doc("<text>&nbsp;&evil;</text>", prolog=prolog))


# -- malformed input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<svg",
        b"<svg></g>",
        b"<svg/><svg/>",
        b"<svg><x:rect/></svg>",
        b"<svg>&undeclared;</svg>",
        b"<svg a='1' a='2'/>",
        b"\x89PNG\r\n\x1a\n",
        b'<?xml version="1.0" encoding="utf-16"?><svg/>',
    ],
    ids=[
        "empty",
        "truncated",
        "mismatched",
        "two-roots",
        "unbound-prefix",
        "undeclared-entity",
        "duplicate-attribute",
        "png",
        "wrong-declared-encoding",
    ],
)
def test_malformed_xml_is_corrupt(data: bytes) -> None:
    with pytest.raises(CorruptImageError, match=r"^invalid SVG"):
        check_active_content(data)


def test_unusable_encoding_is_unsupported() -> None:
    data = b'<?xml version="1.0" encoding="shift_jis"?><svg/>'
    with pytest.raises(UnsupportedImageError, match="encoding"):
        check_active_content(data)


def test_every_declared_encoding_raises_only_the_documented_exceptions() -> None:
    names = set(encodings.aliases.aliases) | set(encodings.aliases.aliases.values())
    for name in sorted(names | {"x-unknown", "utf-32", "ebcdic-cp-us"}):
        data = f'<?xml version="1.0" encoding="{name}"?><svg {SVG_NS}/>'.encode()
        with contextlib.suppress(CorruptImageError, UnsupportedImageError):
            check_active_content(data)


# -- accepted --------------------------------------------------------------------------

ILLUSTRATOR = b"""<?xml version="1.0" encoding="utf-8"?>
<!-- Generator: Adobe Illustrator 16.0.0, SVG Export Plug-In . SVG Version: 6.00 Build 0)  -->
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [
    <!ENTITY ns_extend "http://ns.adobe.com/Extensibility/1.0/">
    <!ENTITY ns_ai "http://ns.adobe.com/AdobeIllustrator/10.0/">
    <!ENTITY ns_graphs "http://ns.adobe.com/Graphs/1.0/">
    <!ENTITY ns_vars "http://ns.adobe.com/Variables/1.0/">
    <!ENTITY ns_sfw "http://ns.adobe.com/SaveForWeb/1.0/">
    <!ENTITY ns_svg "http://www.w3.org/2000/svg">
    <!ENTITY ns_xlink "http://www.w3.org/1999/xlink">
]>
<svg version="1.1" xmlns:x="&ns_extend;" xmlns:i="&ns_ai;" xmlns:graph="&ns_graphs;"
     xmlns="&ns_svg;" xmlns:xlink="&ns_xlink;" x="0px" y="0px" width="20px" height="20px"
     viewBox="0 0 20 20" enable-background="new 0 0 20 20" xml:space="preserve">
<metadata>
    <sfw xmlns="&ns_sfw;"><slices></slices><sliceSourceBounds height="20" width="20" y="0" x="0"
    bottomLeftOrigin="true"></sliceSourceBounds></sfw>
    <?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
    <x:xmpmeta xmlns:x="adobe:ns:meta/"/>
    <?xpacket end="w"?>
</metadata>
<style type="text/css">
    .st0{fill:#FFFFFF;stroke:#000000;stroke-miterlimit:10;}
    .st1{font-family:'MyriadPro-Regular';font-size:12px;}
</style>
<g i:extraneous="self">
    <rect x="1" y="1" class="st0" width="18" height="18"/>
    <text transform="matrix(1 0 0 1 4 14)" class="st1">A</text>
</g>
</svg>
"""

INKSCAPE = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<svg width="10mm" height="10mm" viewBox="0 0 10 10" version="1.1" id="svg1"
   inkscape:version="1.2 (dc2aedaf03, 2022-05-15)" sodipodi:docname="drawing.svg"
   xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
   xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
   xmlns="http://www.w3.org/2000/svg" xmlns:svg="http://www.w3.org/2000/svg"
   xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
   xmlns:cc="http://creativecommons.org/ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <sodipodi:namedview id="namedview1" pagecolor="#ffffff" inkscape:pageopacity="0.0"/>
  <metadata><rdf:RDF><cc:Work rdf:about="">
    <cc:license rdf:resource="http://creativecommons.org/licenses/by/4.0/"/>
  </cc:Work></rdf:RDF></metadata>
  <g inkscape:label="Layer 1" inkscape:groupmode="layer" id="layer1">
    <path style="fill:#ff0000;stroke-width:0.26" d="M 0,0 H 5 V 5 Z" id="path1"
       sodipodi:nodetypes="cccc"/>
  </g>
</svg>
"""


@pytest.mark.parametrize(
    "data",
    [
        svg(),
        ILLUSTRATOR,
        INKSCAPE,
        doc(
            '<defs><linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient>'
            '</defs><rect fill="url(#g)" stroke="url( &quot;#g&quot; )" mask="url(\'#g\')"/>'
        ),
        doc('<defs><circle id="a" r="1"/></defs><use href="#a"/><use xlink:href=" #a "/>'),
        doc(f'<image width="4" height="4" href="{PNG_URL}"/>'),
        doc(
            '<image xlink:href="DATA:image/JPEG;base64,/9j/4AAQ"/><image href="data:image/'
            'webp;base64,UklG"/><image href="data:image/gif;base64,R0lG"/>'
        ),
        doc("<style>rect { fill: url(#g); stroke: #000 } .a:hover { opacity: .5 }</style>"),
        doc(
            "<style><![CDATA[ text > tspan { font: 12px 'Helvetica Neue', sans-serif } ]]></style>"
        ),
        doc('<rect style="fill:url(#g);opacity:0.5;offset-path:none" orient="auto"/>'),
        doc("<text>Say javascript: onload url(https://example.com) @import</text>"),
        doc("<text><![CDATA[<script>alert(1)</script>]]></text>"),
        doc('<a href="#top"><text>back to top</text></a>'),
        doc('<rect><animate attributeName="fill" values="red;blue" dur="1s"/></rect>'),
        doc('<use href=""/>'),
        doc("<!-- <script>alert(1)</script> -->"),
        '<?xml version="1.0" encoding="UTF-16"?><svg xmlns="http://www.w3.org/2000/svg"/>'.encode(
            "utf-16"
        ),
        '<?xml version="1.0" encoding="iso-8859-1"?><svg><text>caf\xe9</text></svg>'.encode(
            "latin-1"
        ),
    ],
    ids=[
        "fixture",
        "illustrator",
        "inkscape",
        "gradient",
        "use",
        "embedded-png",
        "embedded-other-rasters",
        "style",
        "style-cdata",
        "style-attribute",
        "text-mentioning-active-content",
        "cdata-text",
        "fragment-link",
        "animation",
        "empty-href",
        "comment",
        "utf-16",
        "latin-1",
    ],
)
def test_ordinary_svg_is_accepted(data: bytes) -> None:
    check_active_content(data)


# -- hostile input: only the documented exceptions, in linear time ------------------------

TOKENS = [
    "<svg>", "</svg>", "<svg xmlns='http://www.w3.org/2000/svg'>", "<g>", "</g>", "<g/>",
    "<style>", "</style>", "<script>", "</script>", "<![CDATA[", "]]>", "<!--", "-->",
    "<!DOCTYPE svg [", "<!ENTITY e '<g/>'>", "<!ENTITY % p 'x'>", "]>", "&e;", "&amp;", "&#0;",
    "&#x3c;", "<?xml-stylesheet?>", "<?xml version='1.0' encoding='utf-16'?>",
    ' href="', ' xlink:href="', ' style="', ' onload="', ' fill="', '"', "'", "url(", ")",
    "#a", "data:image/png;base64,", "javascript:", "\\", "\\75 ", "@import", "image-set(",
    " ", "\n", "\x00", "\udcff", "\u00e9", "a", ":", "=", "<", ">", "/",
]  # fmt: skip


@settings(max_examples=400, deadline=1000)
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map("".join))
def test_fuzz_structured_only_raises_documented_errors(text: str) -> None:
    with contextlib.suppress(CorruptImageError, UnsupportedImageError):
        check_active_content(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=1000)
@given(st.binary(max_size=4000))
def test_fuzz_bytes_only_raises_documented_errors(data: bytes) -> None:
    with contextlib.suppress(CorruptImageError, UnsupportedImageError):
        check_active_content(data)


@settings(max_examples=200, deadline=1000)
@given(st.text(max_size=200))
def test_fuzz_style_text_only_raises_documented_errors(css: str) -> None:
    escaped = css.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    with contextlib.suppress(CorruptImageError, UnsupportedImageError):
        check_active_content(doc(f'<style>{escaped}</style><rect style="{escaped}"/>'))


MEGABYTE = 1 << 20


@pytest.mark.parametrize(
    ("data", "accepted"),
    [
        (doc("<g>" * (MEGABYTE // 3) + "</g>" * (MEGABYTE // 3)), True),
        (doc("<g/>" * (MEGABYTE // 4)), True),
        (doc("<g " + " ".join(f"a{i}='x'" for i in range(MEGABYTE // 10)) + "/>"), True),
        (doc("<style>" + "url(#a) " * (MEGABYTE // 8) + "</style>"), True),
        (doc("<style>" + "\\75 rl(" * (MEGABYTE // 7) + "</style>"), False),
        (doc("<style>" + "url(" + " " * MEGABYTE + "#a)</style>"), True),
        (doc("<style>" + "\\" * MEGABYTE + "</style>"), True),
        (doc("<rect fill='" + "url(#a)" * (MEGABYTE // 7) + "'/>"), True),
        (doc("<text>" + "&amp;" * (MEGABYTE // 5) + "</text>"), True),
        (doc("<a href='" + " " * MEGABYTE + "#a'/>"), True),
        (doc("<rect class='" + "javascript" * (MEGABYTE // 10) + "'/>"), True),
    ],
    ids=[
        "nested",
        "siblings",
        "attribute-soup",
        "many-urls",
        "many-escapes",
        "url-whitespace",
        "backslashes",
        "attribute-urls",
        "references",
        "href-whitespace",
        "almost-javascript",
    ],
)
def test_megabyte_of_adversarial_input_is_checked_fast(data: bytes, accepted: bool) -> None:
    started = time.perf_counter()
    if accepted:
        check_active_content(data)
    else:
        with pytest.raises(UnsupportedImageError):
            check_active_content(data)
    assert time.perf_counter() - started < 2
