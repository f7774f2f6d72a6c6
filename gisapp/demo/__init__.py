"""Illustrative demo data for 富世街道 (see generate.py)."""
from .generate import DemoData, build_demo

__all__ = ["DemoData", "build_demo"]
