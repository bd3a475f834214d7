"""Everything the bot says, in one place: plain text (no parse mode, nothing to escape).

Functions take plain values and return strings, so they are easy to test and to reword.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from recognizer.types import UNCERTAIN_BELOW, Recognition
from training.train import PHOTO_CROPS_STAGE

from .store import TrainingRun
from .training_jobs import EpochReport, PreparationReport, TrainingOutcome

#: Telegram's caption limit (characters).
CAPTION_LIMIT = 1024

TIPS = (
    "Tips for a good reading:\n"
    "• dark pen or marker on plain white paper works best;\n"
    "• fill the frame with the digits, keep the phone parallel to the paper;\n"
    "• good, even light and no shadow of your hand or phone;\n"
    "• leave a little space between digits, and between lines."
)

START = (
    "Hi! I read handwritten digits.\n\n"
    "Send me a photo of digits written on paper (one digit or many, in one or more lines) "
    "and I reply with the number I read, a picture with a box around every digit, and "
    'how sure I am of each one. If I got it wrong, press "Fix it" and type the right '
    "digits: that helps me learn.\n\n" + TIPS + "\n\n/help shows this again."
)

HELP = (
    "How to use me:\n"
    "• send a photo of handwritten digits (or an image file, sent as a document, for "
    "full quality);\n"
    "• I answer with the number, a picture of what I saw and my confidence for each digit;\n"
    '• press "Correct" if I read it right, or "Fix it" and type the right digits;\n'
    "• in a group, mention me in the photo's caption or reply to one of my messages.\n\n"
    + TIPS
    + "\n\nCommands:\n"
    "/start – what I do\n"
    "/help – this message\n"
    "/forget – delete everything I stored about you (photos results, feedback, samples)\n"
    "/cancel – stop correcting a result\n"
    "Admins: /train [epochs], /train cancel, /stats"
)

HINT_TEXT = "Send me a photo of handwritten digits and I will read them. /help has tips."
HINT_STICKER = "Nice sticker! But I only read digits from photos. /help has tips."
HINT_MEDIA = "I can only read photos (or image files). Please send a photo of handwritten digits."
HINT_NOT_IMAGE_FILE = (
    "That file is not an image. Send a photo (JPEG, PNG, WebP...) of handwritten digits."
)
NO_DIGITS = "No digits found in this photo.\n\n" + TIPS
SOMETHING_WENT_WRONG = (
    "Sorry, something went wrong on my side while handling that. Please try again in a moment."
)
NOT_ADMIN = "Sorry, that command is only for the bot's admins."
NOT_ADMIN_BUTTON = "Only the bot's admins can do that."
BUTTON_EXPIRED = "That result is too old, or was deleted with /forget."
BUTTON_NOT_YOURS = "Only the person who sent the photo can give feedback on it."
ALREADY_SAVED = "Already saved, thank you!"
NOTHING_TO_CANCEL = "There is nothing to cancel."
FIX_CANCELLED = "OK, I will not wait for the digits any more."
DOWNLOAD_FAILED = "I could not download that photo from Telegram. Please send it again in a moment."

BUTTON_CORRECT = "✅ Correct"
BUTTON_FIX = "✏️ Fix it"
BUTTON_CANCEL_TRAINING = "Cancel training"


def percent(value: float | None, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value * 100:.{digits}f}%"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def result_caption(recognition: Recognition) -> str:
    """The caption of the annotated photo: the number, the lowest confidence, doubts."""
    lines = [
        f"Number: {recognition.text}",
        f"Lowest confidence: {percent(recognition.lowest_confidence)}",
    ]
    doubts = [
        f"• {ordinal(i + 1)} digit: {d.label} ({percent(d.confidence)}), maybe {d.runner_up} "
        f"({percent(d.probs[d.runner_up])})"
        for i, d in enumerate(recognition.digits)
        if d.uncertain
    ]
    if doubts:
        lines.append(f"Uncertain (below {percent(UNCERTAIN_BELOW)}):")
        lines.extend(doubts)
    if recognition.truncated:
        lines.append(f"Only the first {len(recognition.digits)} digits were read.")
    return _fit(lines, CAPTION_LIMIT)


def _fit(lines: Sequence[str], limit: int) -> str:
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for line in lines:
        if len("\n".join([*kept, line, "…"])) > limit:
            break
        kept.append(line)
    return "\n".join([*kept, "…"])


def ask_feedback(recognition: Recognition) -> str:
    return f"Is {recognition.text} right?"


def confirmed(text: str, saved: int) -> str:
    return f"✅ Confirmed: {text}. Thank you! {saved} digit samples saved for training."


def ask_fix(count: int, text: str) -> str:
    example = "".join(str((i + 1) % 10) for i in range(count))
    return (
        f"I read {text} ({count} digit{'s' if count != 1 else ''}). Please type the right "
        f"{count} digit{'s' if count != 1 else ''} in reading order, e.g. {example}. "
        "/cancel to stop."
    )


def fix_wrong_count(expected: int, got: int) -> str:
    return (
        f"I read {expected} digit{'s' if expected != 1 else ''} in that photo, so I need "
        f"exactly {expected}, but you typed {got}. Please type them again, or /cancel."
    )


FIX_NOT_DIGITS = "Please type only the digits 0-9 (spaces are fine), in reading order, or /cancel."


def corrected(text: str, saved: int) -> str:
    return f"✏️ Corrected to {text}. Thank you! {saved} digit samples saved for training."


def corrected_buttons_text(old: str, new: str) -> str:
    return f"Read {old}, corrected to {new}."


def fix_requested_buttons_text(text: str) -> str:
    return f"Read {text}: waiting for the right digits…"


def rate_limited(retry_after: float, per_minute: int) -> str:
    wait = max(1, math.ceil(retry_after))
    return (
        f"Slow down a little: I read up to {per_minute} photos per person per minute. "
        f"Please send this one again in {wait} s."
    )


def file_too_big(size: int, limit: int) -> str:
    return (
        f"That file is {size / 1e6:.1f} MB; I can only download files up to "
        f"{limit / 1e6:.0f} MB from Telegram. Please send a smaller photo."
    )


def too_many_pixels(width: int, height: int, limit: int) -> str:
    return (
        f"That image is {width}×{height} pixels; I read images up to "
        f"{limit / 1e6:.0f} megapixels. Please send a smaller photo."
    )


def forgotten(requests: int, samples: int) -> str:
    if requests == 0 and samples == 0:
        return "I had nothing stored about you. Nothing to delete."
    return (
        f"Done: deleted {requests} result{'s' if requests != 1 else ''} and {samples} "
        f"training sample{'s' if samples != 1 else ''}. I no longer store anything about you."
    )


# -- training (admins) ----------------------------------------------------------------


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def training_started(run: TrainingRun, samples: int) -> str:
    return (
        f"Training run #{run.id} (version {run.version}) started: {run.epochs} epochs on "
        f"MNIST + {samples} user samples. I will update this message as it prepares the "
        "training data (minutes on a full run) and after every epoch."
    )


#: What each data preparation stage (``PreparationReport.stage``) does, for the admin.
PREPARATION_STAGES = {PHOTO_CROPS_STAGE: "cutting digits out of synthetic photos"}


def _preparation(report: PreparationReport) -> str:
    """One line: what the preparation does and how far it is ("done" only at the end)."""
    what = PREPARATION_STAGES.get(report.stage, report.stage)
    count = f"{report.done:,} of {report.total:,}"
    if report.done >= report.total:
        return f"Preparing the training data: {what}, done ({count})"
    share = report.done * 100 // max(1, report.total)  # rounded down: 99.6% is not 100%
    return f"Preparing the training data: {what}, {share}% ({count})"


def training_preparing(run: TrainingRun, report: PreparationReport) -> str:
    """The status message while the training data is made, before the first epoch."""
    if report.done >= report.total:
        # The first epoch starts now and takes minutes: an "ETA 0 s" would mislead.
        timing = f"Took {duration(report.seconds)}; the first epoch is running."
    else:
        timing = f"Elapsed {duration(report.seconds)}, ETA {duration(report.eta_seconds)}"
    return f"Training run #{run.id} (version {run.version})\n{_preparation(report)}\n{timing}"


def training_closed(run: TrainingRun, state: str) -> str:
    """The status message's last text, once the run is over."""
    return f"Training run #{run.id} (version {run.version}): {state}."


def training_progress(run: TrainingRun, epoch: EpochReport) -> str:
    return (
        f"Training run #{run.id} (version {run.version})\n"
        f"Epoch {epoch.epoch}/{epoch.epochs}: loss {epoch.loss:.4f}, "
        f"validation accuracy {percent(epoch.val_accuracy, 2)}\n"
        f"Elapsed {duration(epoch.seconds)}, ETA {duration(epoch.eta_seconds)}"
    )


def training_status(
    run: TrainingRun,
    epoch: EpochReport | None,
    now: float,
    preparation: PreparationReport | None = None,
) -> str:
    """/train while a run is going: its latest epoch, or before the first one how far the
    data preparation is."""
    head = f"Training run #{run.id} is already running (started {duration(now - run.started)} ago)."
    if epoch is None and preparation is not None:
        if preparation.done >= preparation.total:
            where = "No epoch has finished yet."
        else:
            where = f"ETA {duration(preparation.eta_seconds)}."
        return head + f"\n{_preparation(preparation)}. {where}\n/train cancel stops it."
    if epoch is None:
        return head + " No epoch has finished yet. /train cancel stops it."
    return (
        head + f"\nEpoch {epoch.epoch}/{epoch.epochs}, validation accuracy "
        f"{percent(epoch.val_accuracy, 2)}, ETA {duration(epoch.eta_seconds)}.\n"
        "/train cancel stops it."
    )


def training_finished(outcome: TrainingOutcome) -> str:
    run = outcome.run
    if outcome.state == "cancelled":
        return (
            f"Training run #{run.id} was cancelled ({outcome.reason}). The live model is unchanged."
        )
    if outcome.state == "failed":
        return f"Training run #{run.id} failed: {outcome.reason}. The live model is unchanged."
    lines = [f"Training run #{run.id} (version {run.version}) finished."]
    metrics = outcome.test_metrics or {}
    if outcome.test_accuracy is not None:
        line = f"MNIST test accuracy: {percent(outcome.test_accuracy, 2)}"
        if "errors" in metrics:
            line += f" ({metrics['errors']} errors of {metrics.get('count', '?')})"
        lines.append(line)
    macro = metrics.get("macro") or {}
    if macro:
        lines.append(
            f"Macro precision {macro.get('precision', 0):.4f}, recall "
            f"{macro.get('recall', 0):.4f}, F1 {macro.get('f1', 0):.4f}"
        )
    if outcome.live_accuracy is not None:
        lines.append(f"Live model before: {percent(outcome.live_accuracy, 2)}")
    if outcome.state == "promoted":
        lines.append(f"✅ The new model is live: {outcome.reason}.")
    else:
        lines.append(f"Kept aside, not promoted: {outcome.reason}.")
    return "\n".join(lines)


def training_lost(run: TrainingRun) -> str:
    return (
        f"Training run #{run.id} (version {run.version}) was lost: {run.detail}. "
        "Its half-trained model was not used; the live model is unchanged. "
        "Send /train to start again."
    )


def training_cancel_requested(run: TrainingRun) -> str:
    return f"Cancelling training run #{run.id}…"


def training_unavailable(reason: str) -> str:
    return f"I cannot train now: {reason}"


TRAIN_USAGE = "Usage: /train [epochs] (1-200), or /train cancel."


def format_timestamp(value: float | str | None) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            return value
    return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
