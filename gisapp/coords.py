"""Chinese map coordinate obfuscations: WGS84 <-> GCJ-02 <-> BD-09.

GCJ-02 ("Mars coordinates", AMap/Gaode, Tencent) is a published closed-form
distortion of WGS84; its inverse is found by fixed-point iteration. BD-09
(Baidu) is a further twist on top of GCJ-02. None of them is a PROJ CRS.

Every function takes floats or numpy arrays (lon, lat) and returns the same
kind. Outside the usual China box the GCJ functions return the input.
"""
from __future__ import annotations

import numpy as np
import shapely

GCJ_A = 6378245.0  # Krasovsky 1940 semi-major axis
GCJ_EE = 0.00669342162296594323  # its first eccentricity squared
BD_X_PI = np.pi * 3000.0 / 180.0
BD_DLON, BD_DLAT = 0.0065, 0.0060
INVERSE_TOL = 1e-10  # degrees; the inverse stops once the residual is below this
INVERSE_MAX_ITER = 30


def _out(result_lon, result_lat, scalar: bool):
    if scalar:
        return float(result_lon), float(result_lat)
    return result_lon, result_lat


def _as_arrays(lon, lat):
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), scalar


def outside_china(lon, lat):
    """True where a point lies outside the box in which GCJ-02 applies."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _gcj_offset(lon, lat):
    """The GCJ-02 shift (dlon, dlat) in degrees at a WGS84 position."""
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y / 30.0 * pi)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0)
    rad = np.radians(lat)
    magic = 1.0 - GCJ_EE * np.sin(rad) ** 2
    dlat = dlat * 180.0 / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * np.sqrt(magic)) * pi)
    dlon = dlon * 180.0 / (GCJ_A / np.sqrt(magic) * np.cos(rad) * pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    lon, lat, scalar = _as_arrays(lon, lat)
    glon, glat = _wgs_to_gcj(lon, lat)
    out = outside_china(lon, lat)
    return _out(np.where(out, lon, glon), np.where(out, lat, glat), scalar)


def _refine(forward, lon, lat, glon, glat):
    """Fixed-point iteration for the inverse of `forward`, from the guess (glon, glat)."""
    for _ in range(INVERSE_MAX_ITER):
        flon, flat = forward(glon, glat)
        rlon, rlat = flon - lon, flat - lat
        glon, glat = glon - rlon, glat - rlat
        if max(np.max(np.abs(rlon), initial=0.0), np.max(np.abs(rlat), initial=0.0)) < INVERSE_TOL:
            break
    return glon, glat


def _wgs_to_gcj(lon, lat):
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat):
    """Inverse of wgs84_to_gcj02 by iteration (residual < 1e-10 degree)."""
    lon, lat, scalar = _as_arrays(lon, lat)
    wlon, wlat = _refine(_wgs_to_gcj, lon, lat, lon, lat)
    out = outside_china(lon, lat)
    return _out(np.where(out, lon, wlon), np.where(out, lat, wlat), scalar)


def gcj02_to_bd09(lon, lat):
    lon, lat, scalar = _as_arrays(lon, lat)
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * BD_X_PI)
    return _out(z * np.cos(theta) + BD_DLON, z * np.sin(theta) + BD_DLAT, scalar)


def _bd_closed_inverse(lon, lat):
    x, y = lon - BD_DLON, lat - BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * BD_X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon, lat):
    """The usual closed-form inverse (~4 cm), refined by iteration to < 1e-10 degree."""
    lon, lat, scalar = _as_arrays(lon, lat)
    glon, glat = _bd_closed_inverse(lon, lat)
    return _out(*_refine(gcj02_to_bd09, lon, lat, glon, glat), scalar)


def transform_geometry(geom, func):
    """Apply one of the functions above to every vertex of a shapely geometry."""
    return shapely.transform(geom, lambda x, y: func(x, y), interleaved=False)
