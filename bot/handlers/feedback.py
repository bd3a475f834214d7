"""The "Correct" / "Fix it" buttons, typed corrections, /cancel and /forget.

The crops of a result are kept in the store under its request id, so the buttons work
after a restart. "Fix it" marks the result in the store as waiting for typed digits; the
user's next text message in that chat is the correction (checked: digits only, as many as
were read). Samples are written under DATA_DIR/samples by ``training.samples`` with names
made of ids only: ``<label>/<user_id>-r<request_id>n<position>.png``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from telegram import ForceReply, ReplyParameters, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from training.samples import delete_user_samples, save_sample

from .. import replies
from ..store import Pending
from .common import Services, services

log = logging.getLogger(__name__)

CALLBACK_PATTERN = r"^fb:(ok|fix):(\d+)$"
_DIGITS = re.compile(r"[0-9\s]+")


def save_samples(
    samples_dir: Path, pending: Pending, labels: Sequence[int]
) -> list[tuple[int, Path]]:
    """Write one PNG per crop with its (confirmed or corrected) label."""
    if len(labels) != len(pending.crops):
        raise ValueError(f"{len(labels)} labels for {len(pending.crops)} crops")
    saved = []
    for position, (label, crop) in enumerate(zip(labels, pending.crops, strict=True)):
        sample_id = f"r{pending.request_id}n{position}"
        path = save_sample(samples_dir, int(label), pending.user_id, sample_id, crop)
        saved.append((int(label), path))
    return saved


def parse_digits(text: str) -> list[int] | None:
    """The digits of a typed correction ("12 34" -> [1, 2, 3, 4]); None if not digits."""
    if not text or not _DIGITS.fullmatch(text.strip()):
        return None
    return [int(c) for c in text if c.isascii() and c.isdigit()]


async def _store_feedback(s: Services, pending: Pending, labels: Sequence[int]) -> str | None:
    """Save samples for a claimed result; returns the feedback kind, None if saving failed."""
    kind = "confirmed" if tuple(labels) == pending.labels else "corrected"
    try:
        paths = await s.run_cpu(save_samples, s.settings.samples_dir, pending, list(labels))
    except (OSError, ValueError):
        log.exception("Saving samples of request %d failed", pending.request_id)
        s.store.release_feedback(pending.request_id)
        return None
    s.store.complete_feedback(
        pending.request_id,
        user_id=pending.user_id,
        kind=kind,
        labels=labels,
        sample_paths=paths,
    )
    log.info("Request %d %s: %d samples", pending.request_id, kind, len(paths))
    return kind


async def on_feedback_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    match = re.fullmatch(CALLBACK_PATTERN, query.data)
    if match is None:
        await query.answer()
        return
    action, request_id = match.group(1), int(match.group(2))
    s = services(context)
    pending = s.store.pending(request_id)
    if pending is None or pending.state == "expired":
        await query.answer(replies.BUTTON_EXPIRED, show_alert=True)
        return
    if query.from_user.id != pending.user_id:
        await query.answer(replies.BUTTON_NOT_YOURS, show_alert=True)
        return
    if pending.state in ("confirmed", "corrected", "saving"):
        await query.answer(replies.ALREADY_SAVED)
        return

    if action == "fix":
        s.store.ask_fix(request_id)
        await query.answer()
        await context.bot.send_message(
            pending.chat_id,
            replies.ask_fix(len(pending.labels), pending.text),
            reply_parameters=_reply_to(pending),
            reply_markup=ForceReply(selective=True, input_field_placeholder=pending.text),
        )
        return

    claimed = s.store.claim_feedback(request_id)
    if claimed is None:
        await query.answer(replies.ALREADY_SAVED)
        return
    kind = await _store_feedback(s, claimed, claimed.labels)
    if kind is None:
        await query.answer(replies.SOMETHING_WENT_WRONG, show_alert=True)
        return
    await query.answer("Thank you!")
    await _edit_buttons_message(
        context, claimed, replies.confirmed(claimed.text, len(claimed.labels))
    )


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A typed correction after "Fix it"; any other text gets a hint."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or message.text is None:
        return
    s = services(context)
    pending = s.store.awaiting_fix(user.id, message.chat_id)
    if pending is None:
        await message.reply_text(replies.HINT_TEXT)
        return
    labels = parse_digits(message.text)
    again = ForceReply(selective=True, input_field_placeholder=pending.text)
    if labels is None:
        await message.reply_text(replies.FIX_NOT_DIGITS, reply_markup=again)
        return
    if len(labels) != len(pending.labels):
        await message.reply_text(
            replies.fix_wrong_count(len(pending.labels), len(labels)), reply_markup=again
        )
        return
    claimed = s.store.claim_feedback(pending.request_id)
    if claimed is None:
        await message.reply_text(replies.ALREADY_SAVED)
        return
    kind = await _store_feedback(s, claimed, labels)
    if kind is None:
        await message.reply_text(replies.SOMETHING_WENT_WRONG)
        return
    text = "".join(str(x) for x in labels)
    if kind == "confirmed":
        await message.reply_text(replies.confirmed(text, len(labels)))
        await _edit_buttons_message(context, claimed, replies.confirmed(text, len(labels)))
    else:
        await message.reply_text(replies.corrected(text, len(labels)))
        await _edit_buttons_message(
            context, claimed, replies.corrected_buttons_text(claimed.text, text)
        )


async def on_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    if services(context).store.cancel_fix(user.id, message.chat_id):
        await message.reply_text(replies.FIX_CANCELLED)
    else:
        await message.reply_text(replies.NOTHING_TO_CANCEL)


async def on_forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Delete every row and sample file about the user who asks."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    s = services(context)
    report = s.store.forget_user(user.id)
    removed = await s.run_cpu(_delete_samples, s.settings.samples_dir, user.id, report.samples)
    log.info("User %d forgotten: %d requests, %d sample files", user.id, report.requests, removed)
    await message.reply_text(replies.forgotten(report.requests, removed))


def _delete_samples(samples_dir: Path, user_id: int, indexed: Sequence[Path]) -> int:
    """Delete the user's sample files: those the index names and any left unindexed."""
    removed = 0
    for path in indexed:
        if path.is_file():
            path.unlink()
            removed += 1
    return removed + delete_user_samples(samples_dir, user_id)


def _reply_to(pending: Pending) -> ReplyParameters | None:
    if pending.message_id is None:
        return None
    return ReplyParameters(message_id=pending.message_id, allow_sending_without_reply=True)


async def _edit_buttons_message(
    context: ContextTypes.DEFAULT_TYPE, pending: Pending, text: str
) -> None:
    """Replace the buttons message's text; without a keyboard the buttons disappear."""
    if pending.buttons_message_id is None:
        return
    try:
        await context.bot.edit_message_text(
            text, chat_id=pending.chat_id, message_id=pending.buttons_message_id
        )
    except BadRequest as exc:  # deleted by the user, or unchanged text
        log.info("Could not edit buttons message of request %d: %s", pending.request_id, exc)
