"""Simplified Chinese by default, English on request (``?lang=en``, kept in a cookie)."""
from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request

LANGS = ("zh", "en")
COOKIE = "lang"

MESSAGES = {
    "app_title": {"zh": "富世街道创文工作地图", "en": "Fushi Subdistrict campaign map"},
    "illustrative": {"zh": "演示数据：几何位置为示意，数字来自存储的记录。",
                     "en": "Demo data: geometry is illustrative; figures come from stored records."},
    "status": {"zh": "状态", "en": "Status"},
    "percent": {"zh": "完成度", "en": "Complete"},
    "status_date": {"zh": "更新日期", "en": "Updated"},
    "no_record": {"zh": "暂无进度记录", "en": "No progress record"},
    "legend": {"zh": "图例", "en": "Legend"},
    "basemap_none": {"zh": "无底图", "en": "No basemap"},
    "basemap_osm": {"zh": "OpenStreetMap 在线底图", "en": "OpenStreetMap (online)"},
    "figures": {"zh": "成果数据", "en": "Figures"},
    "switch_lang": {"zh": "English", "en": "中文"},
    "error": {"zh": "出错了", "en": "Error"},
    "back_home": {"zh": "返回地图", "en": "Back to the map"},
    "reports": {"zh": "问题上报", "en": "Field reports"},
    "search": {"zh": "搜索街巷、小区、市场、社区…", "en": "Search lanes, compounds, markets, communities…"},
    "community": {"zh": "社区", "en": "Community"},
    "all_communities": {"zh": "全部社区", "en": "All communities"},
    "date_from": {"zh": "记录起", "en": "Records from"},
    "date_to": {"zh": "至", "en": "to"},
    "as_of": {"zh": "截至日期", "en": "As of"},
    "apply": {"zh": "筛选", "en": "Apply"},
    "clear": {"zh": "清除", "en": "Clear"},
    "dashboard": {"zh": "统计", "en": "Dashboard"},
    "work_type": {"zh": "工作类型", "en": "Work type"},
    "targets": {"zh": "目标完成情况", "en": "Against targets"},
    "published": {"zh": "公布数", "en": "Published"},
    "value": {"zh": "统计数", "en": "Value"},
    "by_community": {"zh": "分社区", "en": "By community"},
    "over_time": {"zh": "进度趋势", "en": "Progress over time"},
    "features": {"zh": "数量", "en": "Features"},
    "copy_link": {"zh": "复制链接", "en": "Copy link"},
    "link_copied": {"zh": "链接已复制", "en": "Link copied"},
    "json_twin": {"zh": "数据（JSON）", "en": "Data (JSON)"},
    "no_status": {"zh": "无记录", "en": "No record"},
    "loading": {"zh": "加载中…", "en": "Loading…"},
    "load_failed": {"zh": "数据加载失败，请重试", "en": "Could not load data, please retry"},
    "saving": {"zh": "正在保存…", "en": "Saving…"},
    "login": {"zh": "登录", "en": "Log in"},
    "logout": {"zh": "退出", "en": "Log out"},
    "username": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "public_view": {"zh": "公众版", "en": "Public view"},
    "audit": {"zh": "操作审计", "en": "Audit trail"},
    "users": {"zh": "用户", "en": "Users"},
    "actor": {"zh": "操作人", "en": "Actor"},
    "table": {"zh": "数据表", "en": "Table"},
    "action": {"zh": "操作", "en": "Action"},
    "time": {"zh": "时间", "en": "Time"},
    "summary": {"zh": "摘要", "en": "Summary"},
    "before": {"zh": "修改前", "en": "Before"},
    "after": {"zh": "修改后", "en": "After"},
    "display_name": {"zh": "姓名", "en": "Name"},
    "role": {"zh": "角色", "en": "Role"},
    "unit": {"zh": "所属单位/社区", "en": "Unit / community"},
    "new_user": {"zh": "新建用户", "en": "New user"},
    "create": {"zh": "创建", "en": "Create"},
    "ledger": {"zh": "台账", "en": "Ledgers"},
    "quality": {"zh": "数据质量", "en": "Data quality"},
    "new_report": {"zh": "上报问题", "en": "Report a problem"},
    "print_view": {"zh": "打印当前视图", "en": "Print this view"},
    "snapshots": {"zh": "区域快照", "en": "Area snapshots"},
    "download": {"zh": "下载所选图层", "en": "Download the chosen layer"},
    "quality_none": {"zh": "未发现问题", "en": "No inconsistencies found"},
    "show_on_map": {"zh": "在地图上查看", "en": "Show on the map"},
    "ledger_export": {"zh": "导出当前台账（Excel）", "en": "Export the current ledger (Excel)"},
    "ledger_import": {"zh": "导入台账", "en": "Import a ledger"},
    "ledger_apply": {"zh": "确认导入", "en": "Import"},
    "ledger_done": {"zh": "已导入：新增 / 更正 / 未变", "en": "Imported: new / corrected / unchanged"},
    "ledger_blocked": {"zh": "请先处理标红的行", "en": "resolve the marked rows first"},
    "ledger_new": {"zh": "新增记录", "en": "new record"},
    "ledger_update": {"zh": "更正记录", "en": "correction"},
    "ledger_unchanged": {"zh": "未变", "en": "unchanged"},
    "ledger_error": {"zh": "错误", "en": "error"},
    "ledger_unknown": {"zh": "找不到", "en": "not found"},
    "ledger_ambiguous": {"zh": "需确认", "en": "choose"},
    "dry_run": {"zh": "预览（不写入）", "en": "Dry run (writes nothing)"},
    "file": {"zh": "文件", "en": "File"},
    "row": {"zh": "行", "en": "Row"},
    "feature": {"zh": "要素", "en": "Feature"},
    "changes": {"zh": "变化", "en": "Changes"},
    "message": {"zh": "说明", "en": "Message"},
}


def current_lang() -> str:
    if has_request_context() and "lang" in g:
        return g.lang
    if has_request_context():
        return _pick()
    return current_app.config.get("DEFAULT_LANG", "zh") if current_app else "zh"


def _pick() -> str:
    asked = request.args.get("lang") or request.cookies.get(COOKIE)
    return asked if asked in LANGS else current_app.config.get("DEFAULT_LANG", "zh")


def t(key: str, lang: str | None = None) -> str:
    return MESSAGES[key][lang or current_lang()]


def init_app(app: Flask) -> None:
    @app.before_request
    def choose_lang():
        g.lang = _pick()

    @app.after_request
    def remember_lang(response):
        asked = request.args.get("lang")
        if asked in LANGS and request.cookies.get(COOKIE) != asked:
            response.set_cookie(COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax")
        return response

    app.jinja_env.globals.update(t=t, current_lang=current_lang)
