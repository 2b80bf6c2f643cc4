// `pv history [--db FILE] [--limit N]`: the runs in the results store, newest first, one row per unit of work (a
// rerun of the same work replaces its row). The store is only read (a read-only file will do); a row that cannot
// be read is warned of by file and row id, skipped and counted.
using System.CommandLine;
using Pv.Engine;
using Pv.Scenarios.Running;
using Spectre.Console;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv history</c> command.</summary>
internal static class HistoryCommand
{
    public static Command Create(CommandSupport s)
    {
        var limit = new Option<int>("--limit") { Description = "How many runs.", DefaultValueFactory = _ => 50 };
        var command = new Command("history", "Show past runs from the results store.") { limit, s.Db, s.Json };
        command.SetAction(parse => s.Guard(() =>
        {
            string path = s.Full(parse.GetValue(s.Db)!);
            using var store = Pv.Scenarios.Store.ResultsStore.OpenToRead(path);
            var runs = store.Recent(parse.GetValue(limit));
            s.ReportSkipped(store);
            if (parse.GetValue(s.Json)) { s.WriteJson(runs); return PvExitCode.Ok; }
            var table = new Table().Border(TableBorder.Rounded).AddColumns("Finished (UTC)", "Kind", "Scenario", "Backend", "Plugin", "Seed", "Schedules", "Verdict", "ms");
            foreach (var r in runs)
                table.AddRow(r.FinishedAt[..19], r.Kind, Markup.Escape(Path.GetFileName(r.Scenario)), Markup.Escape(r.Backend), r.PluginVersion, r.Seed.ToString(),
                    r.Schedules.ToString("N0"), r.Verdict.ToText(), r.ElapsedMs.ToString("N0"));
            Terminal.Create(s.Output).Write(table);
            s.Output.WriteLine($"{runs.Count} run(s) from {path}{(store.SkippedRows.Count == 0 ? "" : $"; {store.SkippedRows.Count} unreadable row(s) skipped")}");
            return PvExitCode.Ok;
        }));
        return command;
    }
}
