"""gisapp.coords against the prcoords package (an independent implementation)."""
import math
import warnings

import numpy as np
import prcoords
import pytest
import shapely

from gisapp.coords import (
    bd09_to_gcj02, gcj02_to_bd09, gcj02_to_wgs84, transform_geometry, wgs84_to_gcj02,
)

TOL_M = 0.1


def metres(lon1, lat1, lon2, lat2):
    """Haversine distance in metres (arrays or floats)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371000 * np.arcsin(np.sqrt(h))


def _grid():
    lon, lat = np.meshgrid(np.linspace(104.9, 105.1, 21), np.linspace(29.1, 29.25, 16))
    elsewhere = np.array([[116.397, 39.908], [121.473, 31.230], [113.264, 23.129], [91.117, 29.647],
                          [126.642, 45.757], [87.617, 43.826], [110.35, 20.02], [104.066, 30.572]])
    return (np.concatenate([lon.ravel(), elsewhere[:, 0]]),
            np.concatenate([lat.ravel(), elsewhere[:, 1]]))


LON, LAT = _grid()


def _oracle(func, lon, lat):
    pts = [func(prcoords.Coords(la, lo)) for lo, la in zip(lon, lat)]
    return np.array([p.lon for p in pts]), np.array([p.lat for p in pts])


def test_wgs_to_gcj_matches_prcoords():
    glon, glat = wgs84_to_gcj02(LON, LAT)
    olon, olat = _oracle(prcoords.wgs_gcj, LON, LAT)
    assert metres(glon, glat, olon, olat).max() < TOL_M
    # and the shift itself is the few hundred metres one expects near Fushun
    shift = metres(LON, LAT, glon, glat)
    assert 300 < shift[0] < 600


def test_gcj_to_wgs_matches_prcoords():
    glon, glat = wgs84_to_gcj02(LON, LAT)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    olon, olat = _oracle(prcoords.gcj_wgs_bored, glon, glat)
    assert metres(wlon, wlat, olon, olat).max() < TOL_M


def test_bd09_matches_prcoords():
    blon, blat = gcj02_to_bd09(LON, LAT)
    olon, olat = _oracle(prcoords.gcj_bd, LON, LAT)
    assert metres(blon, blat, olon, olat).max() < TOL_M
    glon, glat = bd09_to_gcj02(blon, blat)
    olon, olat = _oracle(prcoords.bd_gcj_bored, blon, blat)
    assert metres(glon, glat, olon, olat).max() < TOL_M


def test_round_trips_are_tight():
    wlon, wlat = gcj02_to_wgs84(*wgs84_to_gcj02(LON, LAT))
    assert max(np.abs(wlon - LON).max(), np.abs(wlat - LAT).max()) < 1e-7
    glon, glat = bd09_to_gcj02(*gcj02_to_bd09(LON, LAT))
    assert max(np.abs(glon - LON).max(), np.abs(glat - LAT).max()) < 1e-7
    # from the GCJ side too: the inverse reproduces the GCJ input when pushed forward again
    glon, glat = wgs84_to_gcj02(*gcj02_to_wgs84(LON, LAT))
    assert max(np.abs(glon - LON).max(), np.abs(glat - LAT).max()) < 1e-7


@pytest.mark.parametrize("lon,lat", [(2.35, 48.86), (-74.0, 40.7), (151.2, -33.9), (139.69, 56.5),
                                     (60.0, 30.0), (105.0, 0.5)])
def test_outside_china_unchanged(lon, lat):
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert tuple(prcoords.wgs_gcj((lat, lon))) == (lat, lon)  # the oracle agrees


def test_scalars_and_arrays():
    out = wgs84_to_gcj02(104.98, 29.18)
    assert isinstance(out, tuple) and all(isinstance(v, float) for v in out)
    arr = wgs84_to_gcj02(np.array([104.98, 2.35]), np.array([29.18, 48.86]))
    assert all(isinstance(v, np.ndarray) and v.shape == (2,) for v in arr)
    assert math.isclose(arr[0][0], out[0]) and math.isclose(arr[1][0], out[1])
    assert (arr[0][1], arr[1][1]) == (2.35, 48.86)
    for func in (gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02):
        s = func(104.98, 29.18)
        a = func(np.array([104.98]), np.array([29.18]))
        assert isinstance(s[0], float) and a[0].shape == (1,)
        assert math.isclose(s[0], a[0][0]) and math.isclose(s[1], a[1][0])


def test_transform_geometry_every_type():
    geoms = [shapely.Point(104.98, 29.18), shapely.LineString([(104.97, 29.17), (104.99, 29.19)]),
             shapely.box(104.97, 29.17, 104.99, 29.19),
             shapely.MultiPolygon([shapely.box(104.9, 29.1, 104.95, 29.15),
                                   shapely.box(105.0, 29.2, 105.05, 29.25)])]
    for geom in geoms:
        moved = transform_geometry(geom, wgs84_to_gcj02)
        assert moved.geom_type == geom.geom_type
        back = transform_geometry(moved, gcj02_to_wgs84)
        c0, c1 = shapely.get_coordinates(geom), shapely.get_coordinates(back)
        assert np.abs(c0 - c1).max() < 1e-7
        x, y = shapely.get_coordinates(moved).T
        ex, ey = wgs84_to_gcj02(*shapely.get_coordinates(geom).T)
        assert np.allclose(x, ex, atol=0, rtol=0) and np.allclose(y, ey, atol=0, rtol=0)
