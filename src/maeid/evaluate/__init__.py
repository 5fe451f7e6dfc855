"""Measuring what an MAE learned, against the theory and on real images.

Identifiability
    regression        R² from a representation to every latent (Nystroem kernel ridge, linear)
    mcc               mean correlation coefficient with Hungarian matching
    identifiability   the theory's predicted R²: 1 in S(m), else the ceiling S(m) reaches
    practical         the practical regime: R² per level of a randomly-masked MAE
Real images
    probe, knn, tsne  linear probe (BatchNorm + linear), cosine k-NN, t-SNE plot
    image_quality     MSE, PSNR, SSIM, FSIM (fsim), whole image or masked patches
    reconstruction    those metrics for an MAE at its masking ratio
    attention         [CLS] attention maps, mean attention distance per layer
    corruptions       seeded corruptions at 5 severities; robustness: the probe under them
    suite             `maeid evaluate`: all of the above for a checkpoint, to eval.json

Import from the submodules (the package imports nothing, so the CLI starts fast):

>>> from maeid.evaluate.regression import latent_r2
>>> r2 = latent_r2(code, sample.latents)          # {latent: held-out R²}
"""
