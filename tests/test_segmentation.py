"""Segmentation steps on images drawn with OpenCV (no classifier involved)."""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import pytest

from recognizer import ruled_lines
from recognizer.ink import (
    InkMask,
    binarize,
    binarize_components,
    contrast_map,
    estimate_background,
    fitted_background,
    ink_contrast,
    ink_mask,
    label_components,
    noise_floors,
    thick_stroke_width,
)
from recognizer.lattice import (
    CUT_COST,
    MAX_DIGIT_WIDTH,
    Crop,
    LineLattice,
    build_lattice,
    choose_segments,
)
from recognizer.pieces import (
    Piece,
    drop_far_singles,
    drop_upright_columns,
    find_pieces,
    group_lines,
    is_punctuation,
    is_stray,
)
from recognizer.ruled_lines import (
    RuledLine,
    _has_long_run,
    _line_ink,
    erase_ruled_lines,
    find_ruled_lines,
)
from recognizer.segmentation import (
    MAX_CANDIDATES,
    WORK_MIN_SIDE,
    _free_digit_height,
    segment,
)

FONT = cv2.FONT_HERSHEY_SIMPLEX


def page(width: int = 800, height: int = 600, paper: int = 235) -> np.ndarray:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 3, (height, width))
    return np.clip(paper + noise, 0, 255).astype(np.uint8)


def write(image: np.ndarray, text: str, origin, scale=3.0, ink=30, thickness=8) -> np.ndarray:
    cv2.putText(image, text, origin, FONT, scale, ink, thickness, cv2.LINE_AA)
    return image


def components(mask: np.ndarray) -> int:
    return cv2.connectedComponents(mask, connectivity=8)[0] - 1


def crop_count(image: np.ndarray) -> list[int]:
    """Number of certain segments per line: the digits a clean string splits into."""
    counts = []
    for lattice in segment(image).lines:
        counts.append(sum(lattice.certain) - 1)
    return counts


# ------------------------------------------------------------------- ink and paper


def test_dark_ink_on_paper_is_detected() -> None:
    image = write(page(), "4711", (200, 350))
    assert estimate_background(image).dark_ink


def test_chalk_on_a_board_is_detected() -> None:
    board = page(paper=55)
    image = write(board, "4711", (200, 350), ink=220)
    assert not estimate_background(image).dark_ink
    mask = ink_mask(image)
    assert components(mask) >= 4
    assert mask[:100].sum() == 0  # the board itself is not ink


def test_one_thick_digit_filling_the_frame_is_dark_ink() -> None:
    """A photo cropped to one marker digit: its strokes are thicker than the default
    kernel, and the paper's noise must not pass for chalk."""
    image = write(page(320, 360), "8", (40, 320), scale=9, ink=60, thickness=30)
    assert fitted_background(image).dark_ink


def test_a_frame_filling_marker_digit_in_uneven_light_is_read_solid() -> None:
    """A small photo cropped to one grey marker digit, softly focused, its light falling
    off down the frame (the paper's brightness spreads over about 10 grey levels), as
    the segmentation sees it enlarged: the default kernel's background sinks into the
    wide strokes and leaves only faint edges, so the brightness split, which sees their
    whole width, must be asked too."""
    paper = 192
    image = page(234, 277, paper=paper)
    ramp = np.linspace(-15, 15, image.shape[0])[:, None]
    image = np.clip(image + ramp, 0, 255).astype(np.uint8)
    cv2.line(image, (0, 8), (233, 10), paper - 40, 2)  # ruled lines above and below
    cv2.line(image, (0, 240), (233, 243), paper - 40, 2)
    stroke = write(np.zeros_like(image), "4", (25, 245), scale=7, ink=255, thickness=30) > 0
    image[stroke] = 154
    image = cv2.GaussianBlur(image, (0, 0), 2)
    size = (round(234 * WORK_MIN_SIDE / 277), WORK_MIN_SIDE)
    work = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    inked = cv2.resize(stroke.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    mask = ink_mask(work)
    assert (mask[inked] > 0).mean() > 0.9


def test_squared_paper_is_still_dark_ink() -> None:
    image = page()
    for step in range(0, 800, 24):
        cv2.line(image, (step, 0), (step, 600), 170, 2)
        cv2.line(image, (0, step), (800, step), 170, 2)
    write(image, "2024", (200, 350), ink=25)
    assert estimate_background(image).dark_ink


def test_a_darker_table_around_the_page_is_no_thick_stroke() -> None:
    """A page shot on a darker table, evenly lit: split by brightness alone, the table is
    a broad band of "ink" around the page. Taken for a marker's stroke it used to widen
    the background kernel until thin pencil digits read as chalk on a board."""
    image = np.full((600, 800), 90, np.uint8)  # the table
    image[25:580, 40:765] = page(725, 555)  # the page on it, the table a narrow band
    write(image, "2045", (220, 330), ink=120, thickness=3)  # thin, faint pencil
    background = fitted_background(image)
    assert thick_stroke_width(estimate_background(image), image) < 20
    assert background.dark_ink
    mask = ink_mask(image)
    assert components(mask[200:360, 200:620]) >= 4


def test_contrast_ignores_a_shadow() -> None:
    image = write(page(), "88", (60, 350), scale=4) & 255
    write(image, "88", (460, 350), scale=4)
    shaded = image.astype(np.float32)
    shaded[:, 400:] *= 0.45  # the right half lies in a deep shadow
    shaded = shaded.astype(np.uint8)
    contrast = contrast_map(shaded, estimate_background(shaded))
    left = np.percentile(contrast[:, :380][contrast[:, :380] > 60], 75)
    right = np.percentile(contrast[:, 420:][contrast[:, 420:] > 60], 75)
    assert right == pytest.approx(left, rel=0.15)
    # The shadow's hard edge may leave a hairline in the mask, but it is no digit.
    assert len(find_pieces(ink_mask(shaded)).pieces) == 4


@pytest.mark.parametrize("value", [0, 128, 255])
def test_uniform_images_have_no_ink(value: int) -> None:
    assert not ink_mask(np.full((300, 400), value, np.uint8)).any()


def test_ink_filling_most_of_the_frame_is_no_noise() -> None:
    """A photo cropped to one thick digit: where the strokes fill most of the noise
    statistics' window, they must still stand out from the paper's noise, not from
    themselves."""
    rng = np.random.default_rng(0)
    contrast = np.clip(rng.normal(6, 3, (320, 320)), 0, 255).astype(np.uint8)
    strokes = np.clip(rng.normal(180, 25, (240, 200)), 0, 255).astype(np.uint8)
    contrast[40:280, 60:260] = strokes  # over most of the middle
    contrast[100:220, 120:200] = 5  # the paper inside them
    strong, weak = noise_floors(contrast, ((5.0, 60), (3.0, 36)))
    inked = contrast[40:280, 60:120]
    assert (inked >= strong[40:280, 60:120]).mean() > 0.9
    assert (inked >= weak[40:280, 60:120]).mean() > 0.9
    # ...while the paper's own noise stays under the floors.
    assert (contrast[:30] < strong[:30]).all()


def test_blank_noisy_page_has_no_digits() -> None:
    assert segment(page()).lines == ()


# ------------------------------------------------------------------- ruled lines


def ruled_page(tilt_degrees: float) -> np.ndarray:
    image = page(1000, 700)
    slope = np.tan(np.radians(tilt_degrees))
    for y in range(60, 700, 70):
        cv2.line(image, (0, y), (1000, round(y + 1000 * slope)), 150, 2, cv2.LINE_AA)
    return image


@pytest.mark.parametrize("tilt", [0.0, 3.0, -5.0])
def test_ruled_lines_are_found_and_removed_at_a_tilt(tilt: float) -> None:
    image = ruled_page(tilt)
    write(image, "1", (300, 400), scale=4, thickness=9)  # crosses a line
    alone = find_pieces(ink_mask(write(page(1000, 700), "1", (300, 400), 4, thickness=9)))
    height = alone.pieces[0].h
    contrast = ink_contrast(image)
    mask = binarize(contrast)
    lines = find_ruled_lines(contrast)
    assert len(lines) >= 5
    cleaned = erase_ruled_lines(mask, lines).mask
    assert components(cleaned) >= 1
    # Almost no line ink is left away from the digit...
    assert cleaned[:, 600:].sum() < 0.02 * mask[:, 600:].sum()
    # ...and the stroke that crossed a line is still one piece, top to bottom.
    pieces = find_pieces(cleaned).pieces
    assert len(pieces) == 1
    assert pieces[0].h >= height - 3


def test_no_lines_on_plain_paper() -> None:
    image = write(page(), "2357", (150, 350), scale=4)
    assert find_ruled_lines(ink_contrast(image)) == []


def test_the_line_transform_is_skipped_on_plain_paper(monkeypatch) -> None:
    calls = []
    hough = cv2.HoughLinesP
    monkeypatch.setattr(
        ruled_lines.cv2, "HoughLinesP", lambda *a, **k: calls.append(1) or hough(*a, **k)
    )

    def digits(image: np.ndarray) -> np.ndarray:
        # Three lines of pen strokes, many of them straight (enough to pass for lines'
        # worth of straight runs), but with the gaps handwriting leaves between digits,
        # wider than a typeface's.
        for row, text in enumerate(("23579", "74152", "57237")):
            for k, digit in enumerate(text):
                origin = (80 + 170 * k, 180 + 200 * row + 15 * k)
                write(image, digit, origin, scale=4, thickness=6)
        return image

    assert find_ruled_lines(ink_contrast(digits(page(1000, 700)))) == []
    assert calls == []
    # The same digits on ruled paper: the transform runs, and finds the lines.
    ruled = digits(ruled_page(2.0))
    assert len(find_ruled_lines(ink_contrast(ruled))) >= 5
    assert calls


def test_the_line_transform_is_skipped_on_noise(monkeypatch) -> None:
    """A small photo of noise, enlarged to the working size, is straight runs almost
    everywhere: no page's lines, and the transform would vote for every pixel of it."""
    calls = []
    hough = cv2.HoughLinesP
    monkeypatch.setattr(
        ruled_lines.cv2, "HoughLinesP", lambda *a, **k: calls.append(1) or hough(*a, **k)
    )
    noise = np.random.default_rng(0).integers(0, 256, (66, 72), dtype=np.uint8)
    enlarged = cv2.resize(noise, (1280, 1173), interpolation=cv2.INTER_LINEAR)
    assert find_ruled_lines(ink_contrast(enlarged)) == []
    assert calls == []


@pytest.mark.parametrize("gap", [1, 6, 12])
def test_a_dashed_tilted_line_counts_as_a_long_run(gap: int) -> None:
    """Dashes as far apart as the transform's largest gap (12 px for a 180-px line) still
    make one long run, at any phase of the dashes against the shrunk copy's cells."""
    slope = math.tan(math.radians(10))
    for phase in range(0, 13, 3):
        runs = np.zeros((240, 320), np.uint8)
        for x in range(phase, 220, 16 + gap):  # 16 px dashes, 10 degrees of tilt
            y = 40 + round(x * slope)
            cv2.line(runs, (x, y), (x + 15, y + round(15 * slope)), 255, 2)
        assert _has_long_run(runs, 180, 12, horizontal=True)
        assert not _has_long_run(runs, 180, 12, horizontal=False)


def test_strokes_side_by_side_are_no_long_run() -> None:
    # A row of digits' bars, about 29 px apart: over twice the transform's largest gap.
    strokes = np.zeros((240, 320), np.uint8)
    for x in range(10, 300, 60):
        cv2.line(strokes, (x, 100), (x + 30, 100), 255, 3)
    assert not _has_long_run(strokes, 180, 12, horizontal=True)
    # Were the transform to join such gaps, so would the test.
    assert _has_long_run(strokes, 180, 30, horizontal=True)


def test_a_long_straight_stroke_is_not_a_ruled_line() -> None:
    """A 1 taller than a third of the photo is still a digit on plain paper."""
    image = write(page(500, 400), "1", (180, 330), scale=8, thickness=14)
    result = segment(image)
    assert len(result.lines) == 1
    assert result.lines[0].crops[0].h > 150


# ------------------------------------------------------------------------ pieces


def test_specks_are_dropped_and_digits_kept() -> None:
    image = write(page(), "305", (150, 350), scale=4)
    rng = np.random.default_rng(3)
    for x, y in rng.integers(0, 600, (40, 2)):
        cv2.circle(image, (int(x) + 100, int(y)), 2, 40, -1)
    pieces = find_pieces(ink_mask(image)).pieces
    assert len(pieces) == 3


def test_a_mesh_of_line_remnants_does_not_set_the_digit_height() -> None:
    """A margin line with the stubs of the lines that cross it is one component, as
    tall and wide as a digit could be and heavier than the digits: it is wire."""
    mask = np.zeros((900, 1200), np.uint8)
    cv2.line(mask, (40, 100), (40, 800), 255, 2)
    for y in range(100, 801, 50):
        cv2.line(mask, (40, y), (600, y + 8), 255, 2)
    cv2.putText(mask, "5", (800, 300), FONT, 3.0, 255, 8)
    height = cv2.boundingRect(mask[:, 700:])[3]
    found = find_pieces(mask)
    assert found.digit_height == pytest.approx(height, abs=2)


def _components(mask: np.ndarray) -> InkMask:
    """Every component of a drawn mask, as ``binarize_components`` keeps them."""
    count, labels, stats = label_components(mask)
    kept = np.arange(count) > 0
    return InkMask(mask, labels, stats, kept, (64, 40))


def test_line_fragments_do_not_set_the_free_digit_height() -> None:
    """Fragments of an upright line (threads) and a mesh of lines (wire) are no digits,
    however tall they are: the free digit height decides how long a ruled line is."""
    mask = np.zeros((1440, 1080), np.uint8)
    cv2.line(mask, (20, 10), (24, 700), 255, 3)  # a thread
    cv2.line(mask, (100, 40), (100, 600), 255, 2)  # a mesh: a margin and its stubs
    for y in range(40, 601, 40):
        cv2.line(mask, (100, y), (400, y + 6), 255, 2)
    assert _free_digit_height(_components(mask)) == 0.0
    cv2.putText(mask, "8", (600, 900), FONT, 3.0, 255, 8)
    digit = cv2.boundingRect(mask[:, 500:])[3]
    assert _free_digit_height(_components(mask)) == pytest.approx(digit, abs=1)


def test_dots_left_where_grid_lines_crossed_are_no_pieces() -> None:
    """Erasing each direction of squared paper spares the other direction's ink as a
    stroke crossing it: a dot is left at every crossing, unless it is known as a scrap."""
    image = page(1000, 700)
    for x in range(20, 1000, 42):
        cv2.line(image, (x, 0), (x + 8, 699), 120, 4)
    for y in range(15, 700, 42):
        cv2.line(image, (0, y), (999, y + 10), 120, 4)
    write(image, "47", (380, 420), scale=1.5, thickness=4)  # digits 31 px tall
    contrast = ink_contrast(image)
    ink = binarize_components(contrast)
    lines = find_ruled_lines(contrast, 300, ink.levels[1])
    erased = erase_ruled_lines(ink.mask(), lines)
    assert erased.zone is not None and erased.band > 0
    without_scraps = find_pieces(erased.mask, erased=erased).pieces
    assert len(without_scraps) == 2
    assert len(find_pieces(erased.mask).pieces) > 50  # the dots, as big as a digit's parts


def test_a_small_photo_is_segmented_enlarged_and_boxed_in_its_own_pixels() -> None:
    """Photos under ``WORK_MIN_SIDE`` are worked on enlarged, where the segmentation's
    pixel sizes were set; the crops' boxes still map back onto the photo."""
    image = write(page(640, 480), "305", (150, 300), scale=4, thickness=10)
    segmentation = segment(image)
    assert segmentation.scale == pytest.approx(WORK_MIN_SIDE / 640)
    (line,) = segmentation.lines
    left = min(crop.x for crop in line.crops) / segmentation.scale
    right = max(crop.x + crop.w for crop in line.crops) / segmentation.scale
    x, _, w, _ = cv2.boundingRect(255 - cv2.threshold(image, 128, 255, cv2.THRESH_BINARY)[1])
    assert left == pytest.approx(x, abs=3)
    assert right == pytest.approx(x + w, abs=3)


def test_detached_bar_of_a_five_is_merged() -> None:
    image = page()
    cv2.line(image, (300, 200), (380, 195), 30, 9)  # the bar, drawn apart
    cv2.line(image, (300, 222), (296, 280), 30, 9)  # the stem
    cv2.ellipse(image, (330, 320), (45, 45), 0, -150, 150, 30, 9)  # the belly
    pieces = find_pieces(ink_mask(image)).pieces
    assert len(pieces) == 1


def test_amount_separators_are_dropped() -> None:
    """In '12.500,-' the dot, the comma and the dash are not digits."""
    image = write(page(1000, 400), "12.500,-", (60, 250), scale=4, thickness=9)
    mask = ink_mask(image)
    components_ = find_pieces(mask)
    digits = [p for p in components_.pieces if p.h > 0.6 * components_.digit_height]
    assert len(digits) == 5
    # What is left besides the digits must be skippable punctuation in the lattice.
    lattice = segment(image).lines[0]
    assert len(lattice.crops) >= 5


def test_punctuation_rule() -> None:
    assert is_punctuation(Piece(0, 0, 8, 8, [1], 50), 100)  # a dot
    assert is_punctuation(Piece(0, 0, 50, 10, [1], 400), 100)  # a dash
    assert not is_punctuation(Piece(0, 0, 10, 95, [1], 600), 100)  # a 1


def test_lines_are_grouped_top_to_bottom_and_left_to_right() -> None:
    pieces = [
        Piece(300, 310, 340, 370, [1], 1),
        Piece(100, 100, 140, 160, [2], 1),
        Piece(160, 104, 200, 164, [3], 1),
        Piece(100, 300, 140, 360, [4], 1),
        Piece(220, 110, 260, 170, [5], 1),  # the string drifts down: still line 1
    ]
    lines = group_lines(pieces, 60)
    assert [[p.labels[0] for p in line] for line in lines] == [[2, 3, 5], [4, 1]]


def test_a_fragment_does_not_take_the_next_digit_of_a_tilted_string() -> None:
    """A string rising to the right, with a stray mark above it before its last digit
    (the case where the last digit used to end up on a line of its own)."""
    digits = [
        Piece(100 + 80 * k, 300 - 14 * k, 150 + 80 * k, 372 - 14 * k, [k], 1) for k in range(7)
    ]
    fragment = Piece(655, 190, 672, 212, [50], 1)
    last = Piece(668, 188, 720, 262, [60], 1)
    lines = group_lines([*digits, fragment, last], 72)
    main = max(lines, key=len)
    assert [p.labels[0] for p in main if p is not fragment] == [*range(7), 60]


def test_a_detached_bar_over_the_last_digit_stays_on_its_line() -> None:
    """The bar of a 5 drawn apart, above and right of its body, at the end of a string."""
    digits = [Piece(100 + 90 * k, 300, 160 + 90 * k, 380, [k], 1) for k in range(3)]
    body = Piece(370, 335, 425, 385, [3], 1)
    bar = Piece(420, 306, 455, 320, [4], 1)
    lines = group_lines([*digits, body, bar], 80)
    assert [[p.labels[0] for p in line] for line in lines] == [[0, 1, 2, 3, 4]]


def test_two_lines_of_digits() -> None:
    image = page(900, 700)
    write(image, "123", (100, 250), scale=4)
    write(image, "45", (100, 550), scale=4)
    assert crop_count(image) == [3, 2]


def test_digits_of_two_lines_that_touch_are_split_apart() -> None:
    """Cramped writing: the 0 of '305' runs into the 2 of '928' below it."""
    image = page(900, 800)
    write(image, "305", (200, 330), scale=4, thickness=10)
    write(image, "928", (200, 440), scale=4, thickness=10)
    cv2.line(image, (312, 320), (312, 365), 30, 10)
    mask = ink_mask(image)
    assert components(mask) == 5
    assert crop_count(image) == [3, 3]


def test_touching_lines_are_no_row_of_tall_writing() -> None:
    """The tall component of two lines' digits that touch is one among many digits of
    the usual height in its rows: no row of writing of its own."""
    image = page(900, 800)
    write(image, "305", (200, 330), scale=4, thickness=10)
    write(image, "928", (200, 440), scale=4, thickness=10)
    cv2.line(image, (312, 320), (312, 365), 30, 10)
    assert len(find_pieces(ink_mask(image)).groups) == 1


def words_and_a_large_number(number: str) -> np.ndarray:
    """Five lines of printed words (outweighing the number in ink) under a number
    written four times their height with a broad pen."""
    image = page(1400, 1000)
    write(image, number, (150, 320), scale=7, thickness=20)
    for k, word in enumerate(("meter", "gas", "reading", "water", "kitchen") * 5):
        write(image, word, (100 + 260 * (k % 5), 480 + 95 * (k // 5)), scale=1.5, thickness=3)
    return image


def test_a_number_written_far_larger_than_the_words_around_it_is_read_at_its_height() -> None:
    # Before: the words set the digit height and the number was dropped as too tall.
    image = words_and_a_large_number("207")
    words, number = find_pieces(ink_mask(image)).groups
    assert number.digit_height > 3 * words.digit_height
    assert len(number.pieces) == 3
    assert number.pen > 3 * words.pen
    result = segment(image)
    first = result.lines[0]
    assert first.digit_height > 3 * result.digit_height
    assert len(first.crops) == 3


def test_a_lone_large_digit_beside_words_is_no_stray_mark() -> None:
    # Its own pen, not the words', says whether it is drawn like the writing around it.
    result = segment(words_and_a_large_number("4"))
    first = result.lines[0]
    assert first.digit_height > 3 * result.digit_height
    assert len(first.crops) == 1


def test_a_tall_component_without_a_waist_is_not_split() -> None:
    """A solid bar two digits tall beside a string is no pair of stacked digits."""
    image = page(900, 800)
    write(image, "305", (200, 330), scale=4, thickness=10)
    cv2.rectangle(image, (600, 200), (650, 400), 30, 12)
    components_ = find_pieces(ink_mask(image))
    assert len(components_.pieces) == 3


def test_touching_digits_get_candidate_cuts() -> None:
    image = page(900, 500)
    (width, _), _ = cv2.getTextSize("0", FONT, 6, 12)
    write(image, "0", (100, 320), scale=6, thickness=12)
    write(image, "0", (100 + width - 30, 320), scale=6, thickness=12)  # touching
    mask = ink_mask(image)
    components_ = find_pieces(mask)
    assert len(components_.pieces) == 1
    lattice = build_lattice(components_.pieces, components_.labels, components_.digit_height)
    assert len(lattice.positions) >= 3  # at least one cut inside the pair
    # The smallest crops are the parts between neighbouring cuts, side by side.
    parts = [lattice.crops[k] for k in lattice.smallest_crops]
    assert len(parts) == len(lattice.positions) - 1
    piece = components_.pieces[0]
    assert all(part.w < piece.x1 - piece.x0 for part in parts)
    assert sum(part.w for part in parts) >= 0.9 * (piece.x1 - piece.x0)


def test_a_long_bar_does_not_take_the_cuts_from_where_it_joins_the_next_digit() -> None:
    """A 7 whose long, slightly wavy top bar runs on into the loop of a 9: the columns
    of the bar left of the stem hold as little ink as those where the two digits join,
    but only the join lies low between two tall strokes."""
    labels = np.zeros((140, 200), np.uint8)
    for x in range(10, 90, 2):
        cv2.circle(labels, (x, 14), 3 + (x // 12) % 2, 1, -1)
    for x in range(90, 152, 2):
        cv2.circle(labels, (x, 14), 5, 1, -1)
    cv2.line(labels, (86, 14), (66, 132), 1, 9)  # the 7's stem: x 62-91
    cv2.ellipse(labels, (158, 48), (28, 32), 0, 0, 360, 1, 9)  # the 9's loop: x 125-191
    cv2.line(labels, (186, 48), (182, 134), 1, 9)
    ys, xs = np.nonzero(labels)
    piece = Piece(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, [1], 1)
    lattice = build_lattice([piece], labels.astype(np.int32), 120)
    cuts = [
        (x, cost)
        for x, cost, certain in zip(
            lattice.positions, lattice.cut_costs, lattice.certain, strict=True
        )
        if not certain
    ]
    assert cuts
    assert all(91 < x < 125 for x, _ in cuts), cuts
    # A narrow joint between two tall strokes: a cut there costs little.
    assert all(cost < 0.5 * CUT_COST for _, cost in cuts), cuts


def test_a_digit_in_two_pieces_between_wide_gaps_is_read_whole() -> None:
    """A 5 whose bar is drawn apart, up and to the right of its belly, in a string with
    wide gaps: the boundaries around it lie far apart, but its ink is one digit wide."""
    labels = np.zeros((400, 800), np.int32)
    boxes = [(100, 200, 170, 300), (380, 255, 425, 300), (408, 200, 495, 244), (560, 200, 620, 300)]
    for label, (x0, y0, x1, y1) in enumerate(boxes, start=1):
        labels[y0:y1, x0:x1] = label
    line = [Piece(*box, [label], 1) for label, box in enumerate(boxes, start=1)]
    lattice = build_lattice(line, labels, 100)
    assert (380, 200, 115, 100) in [(crop.x, crop.y, crop.w, crop.h) for crop in lattice.crops]


def test_candidates_are_capped() -> None:
    image = page(1600, 1200)
    for row in range(15):
        for column in range(20):
            write(image, "8", (20 + column * 78, 70 + row * 78), scale=1.6, thickness=4)
    result = segment(image)
    assert result.truncated
    assert sum(len(lattice.positions) - 1 for lattice in result.lines) <= 3 * MAX_CANDIDATES


# ----------------------------------------------------------------- choosing paths


def lattice(
    positions, certain, spans, span_crops, heights, skip=None, cut_costs=None
) -> LineLattice:
    crops = tuple(Crop(0, 0, 10, h, np.full((h, 10), 255, np.uint8)) for h in heights)
    return LineLattice(
        positions=tuple(positions),
        certain=tuple(certain),
        cut_costs=tuple(cut_costs or [0.0] * len(positions)),
        spans=tuple(spans),
        span_crops=tuple(span_crops),
        crops=crops,
        priors=tuple(0.0 for _ in heights),
        skip_priors=tuple(skip or [-np.inf] * len(heights)),
    )


def one_hot(label: int, confidence: float) -> np.ndarray:
    row = np.full(10, (1 - confidence) / 9, np.float32)
    row[label] = confidence
    return row


def test_confident_whole_beats_two_doubtful_halves() -> None:
    graph = lattice([0, 5, 10], [True, False, True], [(0, 1), (1, 2), (0, 2)], [0, 1, 2], [9] * 3)
    probs = np.stack([one_hot(1, 0.6), one_hot(1, 0.6), one_hot(0, 0.99)])
    assert choose_segments(graph, probs) == [2]


def test_a_cut_at_a_deep_valley_is_taken_where_one_at_a_shallow_dip_is_not() -> None:
    """Two confident halves against a doubtful whole: the prior cost of the cut between
    them (``CUT_COST`` x (1 - valley depth)) settles it."""
    probs = np.stack([one_hot(3, 0.97), one_hot(5, 0.97), one_hot(5, 0.25)])
    spans, crops = [(0, 1), (1, 2), (0, 2)], [0, 1, 2]

    def reading(cost: float) -> list[int]:
        graph = lattice([0, 5, 10], [True, False, True], spans, crops, [9] * 3, None, [0, cost, 0])
        return choose_segments(graph, probs)

    assert reading(CUT_COST * (1 - 0.9)) == [0, 1]  # two digits touching at a narrow joint
    assert reading(CUT_COST) == [2]  # a dip inside one digit's ink


def test_two_confident_digits_beat_a_doubtful_whole() -> None:
    graph = lattice([0, 5, 10], [True, False, True], [(0, 1), (1, 2), (0, 2)], [0, 1, 2], [9] * 3)
    probs = np.stack([one_hot(0, 0.99), one_hot(1, 0.99), one_hot(8, 0.3)])
    assert choose_segments(graph, probs) == [0, 1]


def test_a_crop_the_network_calls_no_digit_loses_to_its_cut() -> None:
    """Touching "93" read as a confident 8: the network's "not one digit" output (a model
    with eleven outputs) is what makes the cut into 9 and 3 win."""
    graph = lattice([0, 5, 10], [True, False, True], [(0, 1), (1, 2), (0, 2)], [0, 1, 2], [9] * 3)
    probs = np.stack([one_hot(9, 0.9), one_hot(3, 0.9), one_hot(8, 0.97)])
    assert choose_segments(graph, probs) == [2]
    assert choose_segments(graph, probs, np.array([0.95, 0.95, 1.0])) == [2]
    assert choose_segments(graph, probs, np.array([0.95, 0.95, 0.05])) == [0, 1]


def test_punctuation_can_be_skipped() -> None:
    graph = lattice(
        [0, 5, 10], [True, True, True], [(0, 1), (1, 2)], [0, 1], [9, 3], skip=[-9.0, -0.3]
    )
    probs = np.stack([one_hot(4, 0.99), one_hot(0, 0.9)])
    assert choose_segments(graph, probs) == [0]


def test_a_lone_mark_far_from_the_writing_is_not_a_digit() -> None:
    """A scrap of a line or a shadow's tip many lines below the number is dropped..."""
    image = write(page(800, 900), "2357", (150, 200), scale=3)
    cv2.line(image, (400, 760), (404, 840), 60, 6, cv2.LINE_AA)
    assert crop_count(image) == [4]


def test_a_page_edge_cut_by_ruled_lines_is_no_column_of_ones() -> None:
    """The ruled lines cut a page's edge into thin pieces a line tall, each alone in its
    line and stacked in one column: no digits. Two lone 1s in a column, or lone digits
    of a digit's width, stay."""
    hd = 50.0
    writing = [Piece(100 + 60 * k, 100, 140 + 60 * k, 150, [k], 900) for k in range(5)]
    edge = [[Piece(700 + k, 170 + 90 * k, 707 + k, 215 + 90 * k, [10 + k], 300)] for k in range(4)]
    ones = [[Piece(300, 200 + 80 * k, 308, 250 + 80 * k, [20 + k], 300)] for k in range(2)]
    digits = [[Piece(500, 200 + 80 * k, 535, 250 + 80 * k, [30 + k], 900)] for k in range(3)]
    kept = drop_upright_columns([writing, *edge, *ones, *digits], hd)
    assert kept == [writing, *ones, *digits]


def test_the_pen_is_the_writing_s_not_the_remnants_of_lines() -> None:
    """Scraps of squared paper outweigh three digits in ink; the pen is still the digits'
    (else a lone digit on its own line looks drawn with another pen and is dropped)."""
    mask = np.zeros((800, 1200), np.uint8)
    cv2.putText(mask, "305", (300, 300), FONT, 4, 255, 12)
    for k in range(120):
        x, y = 40 + (k % 12) * 95, 420 + (k // 12) * 35
        cv2.line(mask, (x, y), (x + 60, y), 255, 2)
    components_ = find_pieces(mask)
    assert len(components_.pieces) == 3
    strokes = [piece.stroke for piece in components_.pieces]
    assert min(strokes) <= components_.pen <= max(strokes)
    assert not is_stray([components_.pieces[0]], components_.digit_height, components_.pen)


def test_a_line_of_hairlines_is_no_writing() -> None:
    """The scraps of a page edge in a corner, two thin pieces of digit height, next to
    writing done with a pen five times as wide."""
    scraps = [
        Piece(1096, 1509, 1102, 1541, [1], 60, 2.8),
        Piece(1120, 1509, 1125, 1589, [2], 90, 2.0),
    ]
    assert is_stray(scraps, 95, 12.2)
    digits = [Piece(100, 100, 160, 195, [3], 900, 11.0), Piece(180, 100, 240, 195, [4], 900, 6.0)]
    assert not is_stray(digits, 95, 12.2)


def test_lone_digits_a_line_gap_apart_beyond_the_writing_are_kept() -> None:
    """A block of lines: two digits, then a lone digit on each of the next two lines."""
    lines = [
        [Piece(100, 100, 150, 170, [1], 1), Piece(170, 100, 220, 170, [2], 1)],
        [Piece(100, 330, 150, 400, [3], 1)],
        [Piece(100, 560, 150, 630, [4], 1)],
        [Piece(100, 1600, 150, 1670, [5], 1)],  # far beyond: a scrap, not a digit
    ]
    kept = drop_far_singles(lines, 70)
    assert [line[0].labels[0] for line in kept] == [1, 3, 4]


def test_a_lone_digit_a_line_below_the_writing_is_kept() -> None:
    """...but a one-digit line written a line below the others is read."""
    image = write(page(800, 900), "2357", (150, 200), scale=3)
    write(image, "1", (150, 360), scale=3)
    assert crop_count(image) == [4, 1]


def test_line_thickness_of_many_lines_at_once() -> None:
    """The one-gather measurement equals measuring each line on its own (median count
    of ink across the line at samples every 12 px, 0 where no sample meets ink; the
    share of samples that meet ink)."""
    rng = np.random.default_rng(5)
    mask = np.zeros((300, 400), np.uint8)
    for y in (40, 120, 200):
        cv2.line(mask, (0, y), (399, y + int(rng.integers(-8, 9))), 255, int(rng.integers(1, 5)))
    cv2.line(mask, (150, 0), (160, 299), 255, 3)
    lines = [
        RuledLine(0, 40, 399, 41),
        RuledLine(5, 118, 390, 124),
        RuledLine(0, 200, 200, 203),
        RuledLine(150, 0, 160, 299),
        RuledLine(0, 280, 399, 280),  # no ink at all
    ]

    def one(line: RuledLine) -> tuple[float, float]:
        steps = max(2, int(np.hypot(line.x1 - line.x0, line.y1 - line.y0) // 12))
        t = np.linspace(0.05, 0.95, steps)
        xs = np.clip(np.round(line.x0 + t * (line.x1 - line.x0)).astype(int), 0, 399)
        ys = np.clip(np.round(line.y0 + t * (line.y1 - line.y0)).astype(int), 0, 299)
        counts = []
        for x, y in zip(xs, ys, strict=True):
            strip = (
                mask[max(0, y - 8) : y + 9, x]
                if line.horizontal
                else mask[y, max(0, x - 8) : x + 9]
            )
            counts.append(np.count_nonzero(strip))
        touched = [c for c in counts if c > 0]
        return (float(np.median(touched)) if touched else 0.0), len(touched) / len(counts)

    thickness, coverage = _line_ink(mask, lines)
    assert thickness == [one(line)[0] for line in lines]
    assert coverage == pytest.approx([one(line)[1] for line in lines])
    assert thickness[-1] == 0.0 and coverage[-1] == 0.0
    assert coverage[0] == 1.0


def test_a_line_too_faint_to_be_ink_does_not_erase_the_stroke_along_it() -> None:
    """A thick 1 drawn along a line of squared paper that is not in the ink mask: the
    line's "thickness" there is the 1's, and erasing it would erase the 1."""
    mask = np.zeros((600, 600), np.uint8)
    cv2.line(mask, (300, 200), (306, 340), 255, 11)  # the 1, along the line x = 303
    cv2.putText(mask, "8", (380, 340), FONT, 6, 255, 11)
    lines = [RuledLine(303, 0, 303, 599), RuledLine(453, 0, 453, 599)]
    lines += [RuledLine(0, 30 + 90 * k, 599, 30 + 90 * k) for k in range(7)]
    assert np.array_equal(erase_ruled_lines(mask, lines).mask, mask)


def _lined_mask() -> np.ndarray:
    """Five ruled lines 3 px thick, with a ring (a 0) written on the middle one."""
    mask = np.zeros((500, 800), np.uint8)
    for y in range(50, 500, 100):
        cv2.line(mask, (0, y), (799, y), 255, 3)
    cv2.ellipse(mask, (500, 225), (22, 26), 0, 0, 360, 255, 7)
    return mask


def test_a_line_found_short_of_its_ends_is_erased_to_them() -> None:
    """The transform's segment of the middle line stops at the ring: the rest of the
    line, on to the photo's edge, is erased all the same, and the ring stands free."""
    mask = _lined_mask()
    lines = [RuledLine(0, y, 799, y) for y in (50, 150, 350, 450)]
    lines.append(RuledLine(120, 250, 478, 250))
    cleaned = erase_ruled_lines(mask, lines).mask
    assert not cleaned[245:256, :470].any() and not cleaned[245:256, 530:].any()
    count, _, stats, _ = cv2.connectedComponentsWithStats(cleaned)
    assert count == 2  # the ring alone
    x, _, w, _, _ = stats[1]
    assert x >= 470 and x + w <= 530


def test_a_line_is_not_erased_between_two_of_its_segments() -> None:
    """Where the transform found a line in two segments, the gap between them (a digit
    whose stroke runs along the line) is left as it was."""
    mask = _lined_mask()
    lines = [RuledLine(0, y, 799, y) for y in (50, 150, 350, 450)]
    lines += [RuledLine(0, 250, 478, 250), RuledLine(560, 250, 799, 250)]
    cleaned = erase_ruled_lines(mask, lines).mask
    assert cleaned[245:256, 530:555].any()


def test_a_line_of_no_length_is_erased_where_it_is() -> None:
    """A segment of no length has no direction to be continued in."""
    mask = _lined_mask()
    lines = [RuledLine(0, y, 799, y) for y in (50, 150, 350, 450)]
    lines.append(RuledLine(300, 250, 300, 250))
    cleaned = erase_ruled_lines(mask, lines).mask
    assert cleaned[249:252, 320:470].all() and not cleaned[45:56].any()


def test_a_lone_line_is_not_continued() -> None:
    """Off ruled paper (fewer than ``RULED_PAGE_LINES`` lines), a "line" is as likely a
    long stroke: it is erased where it was found and no further."""
    mask = _lined_mask()
    lines = [RuledLine(0, 50, 799, 50), RuledLine(120, 250, 478, 250)]
    cleaned = erase_ruled_lines(mask, lines).mask
    assert cleaned[249:252, 600:].all()
    assert not cleaned[45:56].any()


def test_every_part_of_a_cut_piece_is_narrow_enough_for_one_digit() -> None:
    """Two digits touch at a heavy joint, and the deepest valley of the piece's ink lies
    near its left edge (a thin link to a stroke): cut there alone, the rest is wider than
    any digit, and the reading could only read it whole or skip it. The joint is cut too."""
    labels = np.zeros((140, 200), np.int32)
    labels[5:135, 5:19] = 1  # a stroke
    labels[5:11, 19:45] = 1  # a thin link: the deepest valley
    labels[5:35, 45:155] = 1  # a wide, heavy digit: two bars...
    labels[105:135, 45:155] = 1
    labels[5:135, 45:53] = labels[5:135, 147:155] = 1  # ...and its sides
    labels[45:100, 155:170] = 1  # the heavy joint
    labels[5:135, 170:195] = 1  # the next digit's stroke
    piece = Piece(5, 5, 195, 135, [1], int(labels.sum()))
    lattice = build_lattice([piece], labels, 100)
    bounds = list(lattice.positions)
    assert any(155 <= x <= 170 for x in bounds), bounds
    assert all(b - a <= MAX_DIGIT_WIDTH * 100 for a, b in itertools.pairwise(bounds)), bounds
