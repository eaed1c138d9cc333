"""Camera frame or image file -> 28x28 model image (white ink on black, the MNIST recipe), or
"no symbol" with a reason.

Where to look: a camera frame is searched in a centred square region of interest (ROI,
:func:`roi_rect`) analysed at a small working size, so that a 640x480 frame takes a few
milliseconds; an image file (:func:`prepare_image`) is searched whole (a tight crop around a
symbol, or a phone photo of a page). The named steps, each a function of its own module,
run in this order by :mod:`.acquire` (steps 1-5) and :mod:`.symbol` (5b-7, for one symbol
or each symbol of a passcode card):

1. gray: the darkest colour channel (:func:`loading.to_gray_u8`), so coloured pens and a
   highlighter show as dark as a black pen; the frame as a whole: uniform / too dark /
   too bright (:func:`checks.check_frame`); polarity (:func:`light.polarity`);
2. find the paper (:func:`paper.find_paper`): the card, page or sticky note the symbol is
   on, as the region enclosed by sharp brightness steps; ink is searched only on it, and
   its edge, the desk, the wall or a finger holding it are never ink;
3. normalise the light (:func:`light.normalise_light`): ink bright, the background (an
   opening wider than any stroke, on the paper only) subtracted: uneven light and soft
   shadows become flat black;
4. binarise (:func:`ink.binarise`) and remove printed ruled/grid lines
   (:func:`ink.remove_lines`); components, specks dropped (:func:`ink.components`);
5. group the ink (:func:`ink.group_ink`): the biggest component off the edge plus the
   components near it; clutter at the edge (soft shading, straight bars) dropped; a big
   piece at the edge next to the symbol means the symbol is cut (camera frames only: in an
   image file a symbol may touch the image border). When that finds the ink running into the
   edge, a rescue pass repeats steps 4-6 with the ink kept only within reach of a steep edge
   and a straight bar running in from the border (a pen, a cable) dropped; it asks for a
   sharper symbol and is used only if it acquires one (``quality["rescue"]``);
6. checks with reasons (:mod:`checks`): noise, too small, too large, too blurred, filled;
7. MNIST form (:mod:`form`): the ink cut from the full-resolution image (a card held tilted
   or seen at an angle taken out first, :mod:`rectify`), longest side to 20 px, pasted into
   28x28 centred by centre of mass.

A frame without a usable symbol gives ``ok=False`` with a human ``reason``: a failure to
acquire, never a decision. Every threshold is a :class:`PreprocessConfig` field.
"""

from __future__ import annotations

from .acquire import prepare_card_image, prepare_image, preprocess, preprocess_card
from .config import FIT_SIZE, MODEL_SIZE, REASONS, PreprocessConfig, PreprocessResult, card_roi_rect, roi_rect
from .form import mnist_form
from .loading import MAX_IMAGE_FILE_MB, MAX_IMAGE_MEGAPIXELS, ImageError, load_image

__all__ = [
    "FIT_SIZE",
    "MAX_IMAGE_FILE_MB",
    "MAX_IMAGE_MEGAPIXELS",
    "MODEL_SIZE",
    "REASONS",
    "ImageError",
    "PreprocessConfig",
    "PreprocessResult",
    "card_roi_rect",
    "load_image",
    "mnist_form",
    "prepare_card_image",
    "prepare_image",
    "preprocess",
    "preprocess_card",
    "roi_rect",
]
