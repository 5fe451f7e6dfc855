"""maeid: which latent variables does a masked autoencoder recover?

Hierarchical latent-variable models (`maeid.hlvm`), the identification theory of
Kong et al., CVPR 2023 (`maeid.theory`), a ViT masked autoencoder (`maeid.mae`), and
the measurements that hold one against the other.
"""

__version__ = "0.1.0"
