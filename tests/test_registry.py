"""The layer registry: shipped definitions load; bad ones stop start-up with file and field named."""
import shutil
import subprocess
import sys

import pytest

from gisapp import create_app
from gisapp.errors import StartupError
from gisapp.registry import RegistryError, load_registry

from conftest import LAYERS

EXPECTED = {"subdistrict", "county_outline", "communities", "grid_cells", "renovation_areas", "compounds",
            "back_lanes", "markets", "parking_spaces", "demolitions", "waste_bins", "practice_points",
            "publicity_points"}


def test_shipped_layers_load(registry):
    assert set(registry.layers) == EXPECTED
    lanes = registry.get("back_lanes")
    assert lanes.geometry == "LineString" and lanes.progress
    assert lanes.quantity_keys == ["area_m2", "spaces", "funds_cny"]
    assert [q.unit_label("zh") for q in lanes.quantities] == ["平方米", "个", "元"]
    assert "manager" not in lanes.public_fields
    orders = [layer.order for layer in registry]
    assert orders == sorted(orders)


def _copy_layers(tmp_path):
    folder = tmp_path / "layers"
    shutil.copytree(LAYERS, folder, ignore=shutil.ignore_patterns("demo"))
    return folder


@pytest.mark.parametrize("old, new, field", [
    ('geometry = "LineString"', 'geometry = "Curve"', "geometry"),
    ('link_field', 'link_fieldx', "link_fieldx"),
    ('key = "spaces"', 'key = "bananas"', "quantities.1.key"),
    ('popup = ["name"', 'popup = ["nosuchfield"', "popup"),
    ('type = "real"', 'type = "float"', "fields.3.type"),
    ('style = { color = "#1565c0"', 'style = { color = "blue"', "style.color"),
])
def test_bad_definition_names_file_and_field(tmp_path, old, new, field):
    folder = _copy_layers(tmp_path)
    path = folder / "back_lanes.toml"
    text = path.read_text(encoding="utf-8")
    if old == "link_field":
        text = text.replace('tooltip = "name"', 'tooltip = "name"\nlink_fieldx = "code"')
    else:
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError) as err:
        load_registry(folder)
    assert str(path) in str(err.value)
    assert field in str(err.value)


def test_broken_toml_and_id_mismatch(tmp_path):
    folder = _copy_layers(tmp_path)
    (folder / "markets.toml").write_text('id = "markets"\ntitle = {', encoding="utf-8")
    with pytest.raises(RegistryError, match="markets.toml: not valid TOML"):
        load_registry(folder)
    folder = _copy_layers(tmp_path / "b")
    shutil.copy(folder / "markets.toml", folder / "shops.toml")
    with pytest.raises(RegistryError, match=r"shops.toml: field 'id'"):
        load_registry(folder)


def test_field_may_not_shadow_progress_columns(tmp_path):
    folder = _copy_layers(tmp_path)
    path = folder / "compounds.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('"households_total"', '"households"')
                    .replace('"buildings", "households"', '"buildings"'), encoding="utf-8")
    with pytest.raises(RegistryError, match="progress column"):
        load_registry(folder)


def test_bad_figure_reference(tmp_path):
    folder = _copy_layers(tmp_path)
    path = folder / "figures.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('layer = "markets"', 'layer = "bazaars"', 1),
                    encoding="utf-8")
    with pytest.raises(StartupError, match=r"figures.toml: figures\[\d+\] field 'source.layer'"):
        create_app({"LAYERS_DIR": str(folder), "DATABASE": str(tmp_path / "x.gpkg"), "LOAD_DEMO": False})


def test_cli_reports_bad_definition_without_traceback(tmp_path):
    folder = _copy_layers(tmp_path)
    (folder / "waste_bins.toml").write_text(
        (folder / "waste_bins.toml").read_text(encoding="utf-8").replace('"Point"', '"Pointy"'), encoding="utf-8")
    env = {"GISAPP_LAYERS_DIR": str(folder), "GISAPP_DATABASE": str(tmp_path / "x.gpkg"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "gisapp", "figures"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "waste_bins.toml: field 'geometry'" in proc.stderr
    assert "Traceback" not in proc.stderr
