"""Reconstruction quality of the masked patches against the masking ratio (the paper's
Fig. 5), beside predicting the mean and, on synthetic data, the Bayes loss."""

from __future__ import annotations

from maeid.report.figures import (
    BAYES_LOSS,
    MSE_PLATEAU,
    PLATEAU_LOSS,
    RECONSTRUCTION,
    reconstruction_vs_ratio,
)
from maeid.report.registry import Page, section

MSE = "recon.masked.mse"


@section("reconstruction", reads=(*RECONSTRUCTION, MSE_PLATEAU, BAYES_LOSS, PLATEAU_LOSS))
def reconstruction_section(page: Page) -> list[str]:
    title = "## Reconstruction quality against masking ratio (paper Fig. 5)"
    if not any(row.get(MSE) is not None for row in page.rows):
        return [f"{title}\n\n_No reconstruction metrics in this database._"]
    fig = page.figure(reconstruction_vs_ratio(page.rows, page.out / "reconstruction_vs_ratio.png"))
    if fig is None:
        return [f"{title}\n\n_The sweep varies the masking ratio over fewer than two values._"]
    return [f"{title}\n\n![reconstruction metrics]({fig.name})"]
