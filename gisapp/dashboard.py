"""The planner dashboard: figures against targets, a table per community, progress over time.

One function builds the numbers; the page and its JSON twin (/api/dashboard) show the same.
"""
from __future__ import annotations

from .figures import Figure, compute
from .mapdata import MapFilter, community_names, layer_state
from .progress import by_community, by_month, count_by_status
from .storage import Store
from .vocab import STATUS_ORDER


def _plain(value):
    return int(value) if float(value).is_integer() else round(float(value), 2)


_cache: dict[tuple, dict] = {}


def cached_dashboard(store: Store, figures: list[Figure], filt: MapFilter, layer_id: str, lang: str) -> dict:
    """The dashboard, computed once per data version and request."""
    key = (store.url, store.data_version(), filt, layer_id, lang)
    if key not in _cache:
        if len(_cache) > 256:
            _cache.clear()
        _cache[key] = dashboard(store, figures, filt, layer_id, lang)
    return _cache[key]


def dashboard(store: Store, figures: list[Figure], filt: MapFilter, layer_id: str, lang: str) -> dict:
    layer = store.registry.get(layer_id)
    state = layer_state(store, layer, filt, geometry=False)
    names = community_names(store)
    table = []
    if layer.community_field and len(state):
        counts = by_community(state, layer.community_field, layer.quantity_keys)
        for code, row in counts.iterrows():
            table.append({"community": code, "name": names.get(code, code),
                          **{k: _plain(v) for k, v in row.items()}})
    records = store.progress(layer_id, until=filt.as_of)
    records = records[records["feature_code"].isin(state[layer.link_field])] if layer.progress else records
    timeline = by_month(records, layer_id, layer.quantity_keys) if layer.progress else None
    return {
        "filters": filt.query(),
        "layer": {"id": layer.id, "title": layer.title.get(lang),
                  "quantities": [{"key": q.key, "title": q.label(lang), "unit": q.unit_label(lang)}
                                 for q in layer.quantities]},
        "features": int(len(state)),
        "status_counts": count_by_status(state) if layer.progress else None,
        "figures": compute(store, figures, filt.as_of, filt.community, filt.statuses),
        "by_community": table,
        "timeline": [] if timeline is None else
        [{k: (_plain(v) if k != "month" else v) for k, v in r.items()} for r in timeline.to_dict("records")],
        "statuses": STATUS_ORDER,
    }
