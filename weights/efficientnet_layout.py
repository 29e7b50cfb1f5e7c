"""EfficientNet's layout as efficientnet/config.cpp builds it: the block table, the compound-scaled
variants, and each variant's blocks with their widths. Shared by weights/convert.py and the source
readers (weights/keras_source.py), which walk the same network under each framework's names."""
import math

BLOCK_ARGS = [  # repeats, kernel, stride, expand, in, out, se_ratio
    (1, 3, 1, 1, 32, 16, 0.25), (2, 3, 2, 6, 16, 24, 0.25), (2, 5, 2, 6, 24, 40, 0.25),
    (3, 3, 2, 6, 40, 80, 0.25), (3, 5, 1, 6, 80, 112, 0.25), (4, 5, 2, 6, 112, 192, 0.25),
    (1, 3, 1, 6, 192, 320, 0.25),
]
VARIANTS = {  # width, depth, resolution, dropout, lite
    "b0": (1.0, 1.0, 224, 0.2, False), "b1": (1.0, 1.1, 240, 0.2, False), "b2": (1.1, 1.2, 260, 0.3, False),
    "b3": (1.2, 1.4, 300, 0.3, False), "b4": (1.4, 1.8, 380, 0.4, False), "b5": (1.6, 2.2, 456, 0.4, False),
    "b6": (1.8, 2.6, 528, 0.5, False), "b7": (2.0, 3.1, 600, 0.5, False),
    "lite0": (1.0, 1.0, 224, 0.2, True), "lite1": (1.0, 1.1, 240, 0.2, True), "lite2": (1.1, 1.2, 260, 0.3, True),
    "lite3": (1.2, 1.4, 280, 0.3, True), "lite4": (1.4, 1.8, 300, 0.3, True),
}


def round_filters(f, width, divisor=8):
    f = f * width
    new = max(divisor, int(f + divisor / 2) // divisor * divisor)
    if new < 0.9 * f:
        new += divisor
    return int(new)


def architecture(variant):
    """Per-block (in, out, expand, kernel, se_channels) plus stem and head widths."""
    w, d, res, drop, lite = VARIANTS[variant]
    blocks = []
    for s, (r, k, st, e, i, o, se) in enumerate(BLOCK_ARGS):
        cin, cout = round_filters(i, w), round_filters(o, w)
        fixed = lite and s in (0, len(BLOCK_ARGS) - 1)
        reps = r if fixed else int(math.ceil(d * r))
        if lite and s == 0:
            cin = 32
        for j in range(reps):
            bin_ = cin if j == 0 else cout
            se_c = 0 if lite else max(1, int(bin_ * se))
            blocks.append(dict(stage=s + 1, index_in_stage=j, cin=bin_, cout=cout, expand=e, kernel=k, se=se_c))
    stem = 32 if lite else round_filters(32, w)
    head = 1280 if lite else round_filters(1280, w)
    return dict(variant=variant, blocks=blocks, stem=stem, head=head, width=w, depth=d, resolution=res,
                dropout=drop, lite=lite)


def block_args_string(lite):
    parts = []
    for (r, k, s, e, i, o, se) in BLOCK_ARGS:
        parts.append(f"r{r}_k{k}_s{s}{s}_e{e}_i{i}_o{o}" + ("" if lite else f"_se{se}"))
    return ";".join(parts)


def variant_with(n_blocks, stem, head, se):
    """The variant with this many blocks, these stem and head widths and SE presence, or None."""
    for v in VARIANTS:
        a = architecture(v)
        if len(a["blocks"]) == n_blocks and a["stem"] == stem and a["head"] == head and bool(a["blocks"][0]["se"]) == se:
            return v
    return None
