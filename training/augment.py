"""Augmentation that makes clean MNIST digits look like crops from the photo pipeline.

The recognizer's crops differ from MNIST in slant, size and centring (segmentation is not
perfect), in stroke width (pencil versus marker, thresholding), and in blur and noise (phone
cameras, JPEG). One random affine warp per image covers the geometry; max pooling
dilates or erodes strokes; a small Gaussian blurs; additive noise roughens. All of it is
one Keras layer that runs inside the training graph and is the identity at inference, so
it costs no Python per image and never reaches the exported model.
"""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="digitbot")
class PhotoAugment(keras.layers.Layer):
    def __init__(
        self,
        rotation_deg: float = 12.0,
        zoom: float = 0.12,
        shift_px: float = 2.5,
        shear: float = 0.2,
        stroke_prob: float = 0.3,
        blur_prob: float = 0.15,
        noise_std: float = 0.06,
        seed: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.rotation_deg = rotation_deg
        self.zoom = zoom
        self.shift_px = shift_px
        self.shear = shear
        self.stroke_prob = stroke_prob
        self.blur_prob = blur_prob
        self.noise_std = noise_std
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        kernel = [math.exp(-(i * i) / 2.0) for i in (-1, 0, 1)]
        total = sum(kernel)
        kernel = [k / total for k in kernel]
        self._blur = [[[[a * b]] for b in kernel] for a in kernel]  # (3, 3, 1, 1)

    def _uniform(self, n, low, high):
        return keras.random.uniform((n,), low, high, seed=self.seed_generator)

    def _affine(self, images):
        n = ops.shape(images)[0]
        size = ops.cast(ops.shape(images)[1], "float32")
        angle = self._uniform(n, -1.0, 1.0) * (self.rotation_deg * math.pi / 180.0)
        scale = 1.0 + self._uniform(n, -self.zoom, self.zoom)
        # Independent x/y scale by a few percent: handwriting is narrower or wider.
        aspect = 1.0 + self._uniform(n, -0.08, 0.08)
        sx, sy = scale * aspect, scale / aspect
        shear = self._uniform(n, -self.shear, self.shear)
        tx = self._uniform(n, -self.shift_px, self.shift_px)
        ty = self._uniform(n, -self.shift_px, self.shift_px)
        cos, sin = ops.cos(angle), ops.sin(angle)
        # Forward map M = R @ Shear @ S; affine_transform wants output -> input: M^-1.
        m00 = cos * sx - sin * 0.0
        m01 = (cos * shear - sin) * sy
        m10 = sin * sx
        m11 = (sin * shear + cos) * sy
        det = m00 * m11 - m01 * m10
        a00, a01, a10, a11 = m11 / det, -m01 / det, -m10 / det, m00 / det
        c = (size - 1.0) / 2.0
        b0 = c - (a00 * (c + tx) + a01 * (c + ty))
        b1 = c - (a10 * (c + tx) + a11 * (c + ty))
        zeros = ops.zeros_like(a00)
        transform = ops.stack([a00, a01, b0, a10, a11, b1, zeros, zeros], axis=1)
        return ops.image.affine_transform(
            images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0.0
        )

    def _per_image(self, n, prob):
        return ops.reshape(self._uniform(n, 0.0, 1.0) < prob, (-1, 1, 1, 1))

    def call(self, images, training=None):
        if not training:
            return images
        images = ops.cast(images, "float32")
        n = ops.shape(images)[0]
        images = self._affine(images)
        dilated = ops.max_pool(images, pool_size=2, strides=1, padding="same")
        eroded = -ops.max_pool(-images, pool_size=2, strides=1, padding="same")
        choice = self._uniform(n, 0.0, 1.0)
        choice = ops.reshape(choice, (-1, 1, 1, 1))
        half = self.stroke_prob / 2.0
        images = ops.where(choice < half, dilated, ops.where(choice < 2 * half, eroded, images))
        blurred = ops.conv(images, ops.convert_to_tensor(self._blur), padding="same")
        images = ops.where(self._per_image(n, self.blur_prob), blurred, images)
        sigma = ops.reshape(self._uniform(n, 0.0, self.noise_std), (-1, 1, 1, 1))
        noise = keras.random.normal(ops.shape(images), seed=self.seed_generator) * sigma
        return ops.clip(images + noise, 0.0, 1.0)

    def get_config(self):
        config = super().get_config()
        config.update(
            rotation_deg=self.rotation_deg,
            zoom=self.zoom,
            shift_px=self.shift_px,
            shear=self.shear,
            stroke_prob=self.stroke_prob,
            blur_prob=self.blur_prob,
            noise_std=self.noise_std,
            seed=self.seed,
        )
        return config
