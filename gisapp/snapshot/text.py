"""User-facing words of the snapshots (Chinese by default, English) and number formatting."""
from __future__ import annotations

import math

SUBDISTRICT = {"zh": "富世街道", "en": "Fushi Subdistrict"}

LABELS = {
    "kind_community": {"zh": "社区", "en": "Community"},
    "kind_area": {"zh": "老旧小区改造片区", "en": "Renovation area"},
    "kind_lane": {"zh": "背街小巷", "en": "Back lane"},
    "kind_market": {"zh": "农贸市场", "en": "Farmers' market"},
    "kind_bbox": {"zh": "自选范围", "en": "Selected rectangle"},
    "kind_subdistrict": {"zh": "街道", "en": "Subdistrict"},
    "snapshot": {"zh": "创文工作快照", "en": "Campaign snapshot"},
    "atlas": {"zh": "创文工作图集", "en": "Campaign atlas"},
    "atlas_of": {"zh": "图集：{layer}", "en": "Atlas: {layer}"},
    "as_of": {"zh": "数据截至", "en": "Data as of"},
    "printed": {"zh": "制表日期", "en": "Printed"},
    "generated": {"zh": "生成时间", "en": "Generated"},
    "data_version": {"zh": "数据版本", "en": "Data version"},
    "source": {"zh": "数据来源：富世街道创文工作地图（gisapp）存储记录；几何位置为示意",
               "en": "Source: records stored in the Fushi Subdistrict campaign map (gisapp); geometry illustrative"},
    "page": {"zh": "第 {n} 页", "en": "Page {n}"},
    "continued": {"zh": "（续）", "en": " (continued)"},
    # sections
    "works": {"zh": "工作进度", "en": "Works by status"},
    "targets": {"zh": "对照发布数据", "en": "Against the published figures"},
    "problems": {"zh": "问题分类统计", "en": "Problems by category and state"},
    "overdue": {"zh": "超期未结问题", "en": "Overdue problems"},
    "open_overdue": {"zh": "（未结案 {open} 个，超期 {overdue} 个）", "en": " ({open} open, {overdue} overdue)"},
    "open_list": {"zh": "未结案问题清单", "en": "Open problems"},
    "cover_figures": {"zh": "街道总数对照发布数据", "en": "Subdistrict totals against the published figures"},
    "cover_index": {"zh": "各社区概况", "en": "Communities at a glance"},
    "notes": {"zh": "说明", "en": "Notes"},
    # columns
    "col_layer": {"zh": "类别", "en": "Layer"},
    "col_count": {"zh": "数量", "en": "Count"},
    "col_none": {"zh": "无记录", "en": "No record"},
    "col_finished": {"zh": "完成率", "en": "Finished"},
    "col_quantities": {"zh": "工作量", "en": "Quantities"},
    "col_figure": {"zh": "指标", "en": "Figure"},
    "col_area_value": {"zh": "本范围", "en": "This area"},
    "col_share": {"zh": "占街道", "en": "Share"},
    "col_subdistrict": {"zh": "街道合计", "en": "Subdistrict"},
    "col_published": {"zh": "发布数", "en": "Published"},
    "col_value": {"zh": "统计值", "en": "Computed"},
    "col_progress": {"zh": "对照", "en": "Against target"},
    "col_category": {"zh": "问题类别", "en": "Category"},
    "col_total": {"zh": "合计", "en": "Total"},
    "col_code": {"zh": "编号", "en": "Code"},
    "col_state": {"zh": "状态", "en": "State"},
    "col_reported": {"zh": "上报日期", "en": "Reported"},
    "col_days": {"zh": "已过天数", "en": "Days open"},
    "col_community": {"zh": "社区", "en": "Community"},
    "col_description": {"zh": "问题描述", "en": "Description"},
    "col_photo": {"zh": "照片", "en": "Photo"},
    "col_name": {"zh": "名称", "en": "Name"},
    "col_works": {"zh": "工作数", "en": "Works"},
    "col_open": {"zh": "未结问题", "en": "Open problems"},
    "col_page": {"zh": "页码", "en": "Page"},
    # states and marks
    "open_then": {"zh": "当时未结案", "en": "Open then"},
    "no_photo": {"zh": "暂无照片", "en": "No photo"},
    "overdue_mark": {"zh": "超期", "en": "overdue"},
    "at_least": {"zh": "不少于", "en": "at least"},
    "ok": {"zh": "达到", "en": "met"},
    "not_ok": {"zh": "未达到", "en": "not met"},
    "not_located": {"zh": "—", "en": "—"},
    # sentences
    "empty": {"zh": "本范围内没有登记的工作、问题记录。", "en": "Nothing is recorded in this area: no works, no problems."},
    "no_open": {"zh": "截至该日期，本范围内没有未结案问题。", "en": "No open problems in this area on that date."},
    "overdue_line": {"zh": "未结案问题 {open} 个，其中超期 {overdue} 个（上报后超过 {days} 天仍未结案）。",
                     "en": "{open} open problems, {overdue} of them overdue (open more than {days} days after being reported)."},
    "list_in_snapshot": {"zh": "问题清单见该范围的单独快照。", "en": "The list of open problems is in the area's own snapshot."},
    "more_rows": {"zh": "其余 {n} 行见该范围的单独快照。", "en": "{n} more rows: see the area's own snapshot."},
    "note_target": {
        "zh": "“发布数”为街道全域的发布数据（目标）；“本范围”按同一口径只统计本范围内的记录，“占街道”为其占街道合计的比例。完成率 = 已完工与已验收的数量 ÷ 本范围登记的数量。",
        "en": "'Published' is the subdistrict-wide published figure (the target); 'This area' applies the same rule to the "
              "area's records only and 'Share' is its part of the subdistrict total. Finished = done and accepted ÷ "
              "works registered in the area."},
    "note_assign": {
        "zh": "社区按要素的所属社区统计；片区、街巷、市场和自选范围按空间相交统计（街巷两侧各 {lane} 米、市场周边 {market} 米）。",
        "en": "Communities count features by their community code; renovation areas, lanes, markets and rectangles by "
              "spatial intersection (lanes widened by {lane} m each side, markets by {market} m around)."},
    "note_asof": {
        "zh": "状态取截至该日的最新进度记录；问题只计截至该日已上报的，该日之后才结案的记为“当时未结案”。",
        "en": "States are the latest progress records up to that date; problems count if reported by then, and those "
              "closed later show as 'open then'."},
    "basemap_off": {"zh": "底图不可用，已省略", "en": "basemap unavailable, left out"},
    # the print page and the index
    "print": {"zh": "打印", "en": "Print"},
    "download_pdf": {"zh": "下载 PDF", "en": "Download PDF"},
    "paper": {"zh": "纸张", "en": "Paper"},
    "landscape": {"zh": "横向", "en": "Landscape"},
    "portrait": {"zh": "纵向", "en": "Portrait"},
    "back_to_map": {"zh": "返回地图", "en": "Back to the map"},
    "index_title": {"zh": "区域快照", "en": "Area snapshots"},
    "index_intro": {"zh": "选择社区、片区、街巷或市场，打开可打印的快照页面或下载 PDF。地图上可框选任意范围打印。",
                    "en": "Pick a community, renovation area, lane or market to open its print-ready page or PDF. "
                          "Any rectangle can be printed from the map."},
    "atlas_all": {"zh": "全街道图集（封面 + 每个社区一页）", "en": "Subdistrict atlas (cover + one page per community)"},
    "atlas_layer": {"zh": "图集", "en": "atlas"},
    "page_prefix": {"zh": "第 ", "en": "Page "},
    "page_suffix": {"zh": " 页", "en": ""},
    "map_alt": {"zh": "本范围的地图", "en": "Map of the area"},
    # map legend
    "legend": {"zh": "图例", "en": "Legend"},
    "legend_area": {"zh": "本范围", "en": "This area"},
    "legend_reach": {"zh": "统计范围", "en": "Counted area"},
    "legend_open": {"zh": "未结案问题", "en": "Open problems"},
    "legend_community": {"zh": "社区界", "en": "Community boundary"},
    "north": {"zh": "北", "en": "N"},
    "illustrative": {"zh": "几何位置为示意", "en": "Geometry illustrative"},
}


def L(key: str, lang: str, **fmt) -> str:
    """The label ``key`` in ``lang`` (zh or en), formatted with ``fmt``."""
    text = LABELS[key]["en" if lang == "en" else "zh"]
    return text.format(**fmt) if fmt else text


def pick(labels: dict, lang: str) -> str:
    """``labels[lang]`` for a {zh, en} mapping (vocabularies, figures)."""
    return labels.get("en" if lang == "en" else "zh") or labels.get("zh", "")


def num(value) -> str:
    """A figure for print: thousands separators, no decimals for whole numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = float(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def pct(part, whole) -> str:
    """A percentage, rounded down so that only a whole counts as 100%."""
    if not whole:
        return "—"
    share = 100.0 * float(part) / float(whole)
    return f"{math.floor(share + 1e-9):.0f}%" if share < 100 else f"{share:.0f}%"
