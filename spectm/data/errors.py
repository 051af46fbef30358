"""One error type for files that are not shaped as their format promises.

Real archives drift (new layouts, truncated downloads, spreadsheet artefacts), so every reader fails
with the same exception that names the file, the field and what was expected; a caller can catch it,
skip the file and report why.
"""

from __future__ import annotations

import os
import stat


class DataFormatError(ValueError):
    """A file does not match its format: ``file``, ``field`` and ``expected`` say where and how."""

    def __init__(self, file, field: str, expected: str, found: str | None = None):
        self.file = os.fspath(file) if file is not None else "<memory>"
        self.field = field
        self.expected = expected
        self.found = found
        message = f"{self.file}: field {field!r}: expected {expected}"
        if found is not None:
            message += f", found {found}"
        super().__init__(message)

    def __reduce__(self):
        """Rebuild from the four fields, so the error survives pickling (worker processes, caches)."""
        return type(self), (self.file, self.field, self.expected, self.found)


def refuse_special_file(path, what: str) -> None:
    """A folder, pipe or device where a data file is expected: refused at once, since reading a named pipe
    waits forever for a writer. A missing path passes: the open that follows says so in its own words."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, TypeError, ValueError):
        return
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a pipe, socket or device"
        raise DataFormatError(path, "file", f"a regular file ({what})", found=kind)
