"""CIM plug-in (Luo et al., CVPR 2023): exemplar compression with CAM / CIM masks."""
