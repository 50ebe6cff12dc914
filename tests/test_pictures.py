"""losses.png: one panel per thing the run logged, read back from the file."""

from __future__ import annotations

from PIL import Image

from gantool.pictures import save_losses_plot


def _records(ada: bool, evals: bool) -> list[dict]:
    rows = []
    for step in range(100, 1100, 100):
        r = {"step": step, "loss_d": 1.2, "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4}
        if ada:
            r |= {"ada_p": step / 5000, "ada_rt": 0.6}
        if evals and step % 500 == 0:
            r["eval"] = {"fid": 100.0 - step / 20, "is": 5.0, "best": True}
        rows.append(r)
    return rows


def test_ada_and_eval_curves_each_add_a_panel(tmp_path):
    heights = {}
    for ada in (False, True):
        for evals in (False, True):
            path = tmp_path / f"losses-{ada}-{evals}.png"
            save_losses_plot(_records(ada, evals), path)
            with Image.open(path) as image:
                heights[ada, evals] = image.size[1]
    panel = heights[True, False] - heights[False, False]
    assert panel == 250  # 2.5 inches at 100 dpi
    assert heights[False, True] - heights[False, False] == panel
    assert heights[True, True] - heights[False, False] == 2 * panel


def test_ada_panel_draws_p_and_r_t(tmp_path):
    plain, ada = tmp_path / "plain.png", tmp_path / "ada.png"
    save_losses_plot(_records(False, False), plain)
    save_losses_plot(_records(True, False), ada)
    with Image.open(ada) as image:
        lower = image.convert("RGB").crop((0, 500, image.size[0], 750))
        colours = {c for _, c in lower.getcolors(1 << 20)}
    # matplotlib's first two line colours: p in blue, r_t in orange
    assert (31, 119, 180) in colours and (255, 127, 14) in colours
