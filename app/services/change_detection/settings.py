"""Tuning of the change detector, with the defaults the benchmark was run with."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ChangeDetectionSettings:
    """Every threshold of the pipeline; pass a modified copy to tune one area."""

    # quality gate (shares of the tile)
    blank_grey_std: float = 3.0  # below: one flat colour, nothing was imaged
    placeholder_share: float = 0.85  # share of pixels within ±8 levels of the commonest grey
    saturated_share: float = 0.60  # share of clipped pixels (any channel ≥ 254, or all ≤ 1)
    cloud_share: float = 0.50  # share of bright, colourless, smooth pixels
    # registration
    registration_size: int = 256  # longest side the images are reduced to for estimation
    # larger estimated shifts are not trusted: two dates of georeferenced imagery can be
    # offset by up to max_shift_m on the ground (never trusted beyond max_shift_share of the
    # tile's smaller side), and by max_shift_px however coarse the pixels
    max_shift_px: float = 24.0
    max_shift_m: float = 25.0
    max_shift_share: float = 0.2
    max_rotation_deg: float = 5.0
    ecc_iterations: int = 40
    min_phase_response: float = 0.05  # weaker phase-correlation peaks are noise
    min_registration_correlation: float = 0.3  # band-passed images; changes and noise lower it
    min_valid_share: float = 0.6  # overlap needed after warping, else the tile is skipped
    # radiometric normalisation
    radiometry_block_px: int = 64  # block side for the haze correction
    colour_pixels: int = 200_000  # larger pairs are colour-scored on a copy this size …
    colour_resolution_m: float = 1.0  # … but never coarser than this (m/px)
    # change score and threshold (CIE Lab colour difference units, ΔE)
    blur_sigma: float = 1.0
    luminance_weight: float = 0.8  # lighting leaves more residue in L than in colour
    vanished_weight: float = 0.75  # weight of what disappeared next to what appeared
    threshold_floor: float = 14.0  # seed threshold never goes below this at sensitivity 0.5
    noise_factor: float = 4.0  # … nor below this many times the median score (noise level)
    spread_factor: float = 7.0  # … nor below this many times its 75th percentile
    grow_ratio: float = 0.55  # regions grow from seeds down to this share of the seed threshold
    # structure that appeared (see structure.py): sizes on the ground, floors in pixels
    structure_resolution_m: float = 1.0  # finer imagery is reduced to this first
    structure_window_m: float = 2.0  # structure tensor window
    structure_tolerance_m: float = 2.0  # edges that moved less than this are not change
    structure_tolerance_px: float = 3.0  # … nor less than this (registration residue)
    shadow_tolerance_m: float = 4.5  # in dark zones: shadows cast from another sun angle
    shadow_tolerance_px: float = 6.0  # … and never less than this
    structure_blur_m: float = 16.0  # evidence is averaged over a few buildings
    # the two captures' structure levels may differ by this much (natural log of the ratio)
    # through what changed; beyond it the rest is the sensor's (sharpness, contrast) and is
    # taken out (see structure.level_ratio)
    structure_level_tolerance: float = 0.3
    structure_level_blur_m: float = 8.0  # structure compared over this neighbourhood for it
    structure_threshold: float = 0.15  # multiples of the pair's structure level
    structure_grow_ratio: float = 0.7  # regions grow from seeds down to this share of it
    # (further on imagery coarser than about 0.7 m/px: see structure._evidence)
    colour_support: float = 0.25  # colour regions need this share of it in new structure
    colour_alone: float = 1.5  # … unless their mean score is this many times the seed
    # imagery this coarse (m/px) or coarser no longer resolves buildings: there a change of
    # land cover counts on colour alone, where it stands out from the pair's own spread
    land_cover_from_m: float = 7.0
    land_cover_spread: float = 3.0  # seed: median + this many robust deviations of ΔE
    # … unless haze explains the region: the older pattern, brighter, at a lower gain
    haze_min_fit: float = 0.7  # share of the newer pixels' variance the older ones explain
    haze_max_gain: float = 0.97
    removal_min_area_m2: float = 100.0  # colour backed by vanished structure only: at least
    colour_cover: float = 0.05  # structure regions this much covered by colour ones give way
    # confirmation: centroids this close (or closer, for large changes) are the same place
    confirm_distance_m: float = 10.0
