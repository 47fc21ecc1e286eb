"""What a filesystem store's directory holds: image files, and the
temporary files of writes (kept apart in ``.imageattach-tmp/``)."""

from __future__ import annotations

from pathlib import Path

TEMPORARY = ".imageattach-tmp"


def image_files(root: str | Path) -> list[str]:
    """The files under ``root`` outside its dot-directories (locks, markers
    of on-demand thumbnails, temporary files), relative and sorted."""
    root = Path(root)
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def temporary_files(root: str | Path) -> list[str]:
    """The temporary files of writes in progress or interrupted."""
    directory = Path(root) / TEMPORARY
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []
