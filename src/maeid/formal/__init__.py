"""The formal regime (Theorem 2): one fixed mask, a bottleneck of dimension d_c, R² per latent.

For each fixed mask `m` of a synthetic model:

1. the theory gives S(m), c(m) and d_c (`maeid.theory.identify`);
2. a bottleneck autoencoder is trained to predict the masked observed vectors from a
   `d_c`-dimensional code of the visible ones (`maeid.mae.MLPBottleneck` by default, or
   the ViT `maeid.mae.BottleneckMAE` on images);
3. on held-out samples, the code is regressed onto every true latent (kernel ridge,
   `maeid.evaluate.regression`): the *measured* R²;
4. the *predicted* R² is 1 for latents in S(m) and, for the others, their exact limit
   R²*(z | S(m)) (`maeid.theory.exact_limits`), with its Monte Carlo standard error.
   Beside it stands the regressor's own reference: what the same regressor reaches from
   the true values of S(m) (`maeid.evaluate.identifiability`).

The verdict is per mask and per seed (`verdict`).

    config     IdentifyConfig: the architecture, the training budget, the samples
    masks      FixedMask: a mask named by its nodes or drawn by the MAE's sampler
    mlp        the MLP bottleneck on observed vectors: its inputs and its trainer
    vit        the ViT bottleneck on images: its inputs and `train_bottleneck`
    fit        train one bottleneck for a mask and encode the held-out samples
    measure    the code against the theory, latent by latent
    verdict    agrees / disagrees / untestable, and the thresholds
    result     MaskResult: what one mask and seed gave, and its summary
    regime     `identify_formal`: every mask and seed (`maeid identify`)
    report     the tables, identify.json, masks.json and identify.png

Import from the submodules (the package imports nothing, so the CLI starts fast):

>>> from maeid.formal.regime import identify_formal
"""
