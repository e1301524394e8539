"""``lamina schedules``: lamina's schedules API (/lamina/v1/schedules)."""

from __future__ import annotations

from lamina.cli.kinds import Kind, Verb, always, arg, collection, make_group, opt, query

KIND = Kind(
    group="schedules",
    help="Schedules: rate() and cron() expressions that invoke a function.",
    path=collection("/lamina/v1/schedules"),
    id_arg="name",
    columns=[("NAME", "Name"), ("EXPRESSION", "ScheduleExpression"), ("STATE", "State"),
             ("FUNCTION", "FunctionArn"), ("NEXT FIRE", "NextFireTime")],
    verbs=(
        Verb("create", "POST", with_id=False, opts=(
            arg("name", "Name"),
            opt("--function", "function_name", key="FunctionName", required=True,
                help="Function name or ARN (name:alias allowed)."),
            opt("--expression", key="ScheduleExpression", required=True, help="rate(5 minutes) or cron(0 12 * * ? *)"),
            opt("--qualifier", key="Qualifier", send=bool, default=None, help="Alias or version to invoke."),
            opt("--input", "payload", key="Input", default=None, help="Constant JSON event instead of EventBridge's."),
            opt("--description", key="Description", default=""),
            opt("--disabled", key="State", send=always, convert=lambda off: "DISABLED" if off else "ENABLED",
                is_flag=True, help="Create it disabled."),
        )),
        Verb("list", "GET", with_id=False, rows_key="Schedules", opts=(
            query("--function", "function_name", key="FunctionName", default=None,
                  help="Only this function's schedules."),)),
        Verb("get", "GET", show="detail"),
        Verb("disable", "PUT", fixed={"State": "DISABLED"}),
        Verb("enable", "PUT", fixed={"State": "ENABLED"}),
        Verb("delete", "DELETE", show="done", done="deleted schedule {id}"),
    ),
    triggers_key="Schedules", label="schedule",
    summary=lambda s: (s["Name"], f"{s['ScheduleExpression']} {s['State']}"),
)

schedules = make_group(KIND)
