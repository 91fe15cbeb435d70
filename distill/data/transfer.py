"""A transfer set (``data.transfer``): another data set's training images feed the
training batches, e.g. USPS for an MNIST teacher (DAFL's "alternative data"
baseline). Its labels belong to another task and are never read: validation
rejects a method that reads labels. The run's own data set still gives the
validation and test splits, the normalisation and the augmentation, so the
student is judged exactly as the others of its table. The transfer set's files
are looked up under the same ``data.root``."""
from distill.data.registry import DATA_INFO, DATASETS, ImageSet, local_root
from distill.errors import ConfigError


def transfer_images(data_cfg) -> ImageSet:
    """The transfer set's whole training split (its held-out test images are not used)."""
    train, _, _ = DATASETS.get(data_cfg.transfer, "data.transfer")(local_root(data_cfg.root))
    return train


def check_transfer(data_cfg, data_needs, method_name: str) -> None:
    """The transfer set must look like the run's data set to the networks, and the method must
    learn from images alone (a teacher's outputs), never from labels."""
    if not data_cfg.transfer:
        return
    DATASETS.get(data_cfg.transfer, "data.transfer")
    own, other = DATA_INFO.get(data_cfg.name, "data.name"), DATA_INFO.get(data_cfg.transfer, "data.transfer")
    if (other.in_channels, tuple(other.image_size)) != (own.in_channels, tuple(own.image_size)):
        fitting = [n for n in DATA_INFO.names() if n != data_cfg.name
                   and (DATA_INFO.get(n).in_channels, tuple(DATA_INFO.get(n).image_size)) == (own.in_channels, tuple(own.image_size))]
        raise ConfigError("data.transfer", f"{data_cfg.transfer} has {other.in_channels}x{other.image_size[0]}x"
                                           f"{other.image_size[1]} images, {data_cfg.name} {own.in_channels}x"
                                           f"{own.image_size[0]}x{own.image_size[1]}; allowed: {', '.join(fitting) or 'none'}")
    if not data_needs.real_data:
        raise ConfigError("data.transfer", f"method {method_name} reads no training images; allowed: unset")
    if data_needs.labels:
        raise ConfigError("data.transfer", f"method {method_name} reads the training labels, and a transfer set's "
                                           "labels are not this task's: use a method that learns from a teacher "
                                           "alone (kd with method.alpha=1) or unset data.transfer")
