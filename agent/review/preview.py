"""HTML previews of drafts: the email as rendered, or the SMS text in a message bubble."""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path

from agent.domain import Channel, Draft
from agent.guardrails.sms import count_sms

# NOTE: this page is a preview for the reviewer, never sent, so it lives here and not
# in templates/, which holds only customer-facing templates.
SMS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>SMS preview {draft_id}</title></head>
<body style="margin:0;padding:32px;background:#e9edf2;font-family:Helvetica,Arial,sans-serif;">
<div style="max-width:360px;margin:0 auto;background:#ffffff;border-radius:18px;padding:20px;">
<p style="margin:0 0 12px 0;color:#556;font-size:13px;">{info}</p>
<div style="background:#2f7d4f;color:#ffffff;border-radius:16px;padding:12px 14px;
font-size:16px;line-height:1.4;white-space:pre-wrap;">{text}</div>
</div>
</body>
</html>
"""


def preview_html(draft: Draft) -> str:
    """Return the page to preview: the stored email HTML, or a page showing the SMS."""
    if draft.channel == Channel.EMAIL and draft.html:
        return draft.html
    count = count_sms(draft.text)
    info = f"SMS, {count.segments} segment(s), {count.units} {count.encoding} units"
    return SMS_PAGE.format(
        draft_id=html.escape(draft.id), info=html.escape(info), text=html.escape(draft.text)
    )


def write_preview(draft: Draft, path: Path) -> Path:
    """Write the preview of `draft` to `path` atomically and return the absolute path."""
    path = path.expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, preview_html(draft))
    return path


def write_atomically(path: Path, content: str) -> None:
    """Write `content` to a temporary file beside `path`, then rename it over `path`."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
