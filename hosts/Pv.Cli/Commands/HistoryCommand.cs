// `pv history [--db FILE] [--limit N] [--scenario TEXT] [--backend NAME] [--kind run|explore|ab] [--verdict V]
// [--since WHEN] [--json]`: the work in the results store, newest first, one line per run of a command: an A/B
// comparison (both sides' seeds folded), a search (its chunks folded) or a single run, each with its id (`pv report
// ID` renders a comparison again). A rerun of the same work is the same group (it replaced its rows). The filters
// keep the groups that match all of them. --json lists each group with its units, metrics in their real unit (an
// A/B seed's mean per run, not the thousandths the store keeps) and the units named. The store is only read (a
// read-only file will do); a row that cannot be read is warned of by file and row id, skipped and counted.
using System.CommandLine;
using System.Globalization;
using Pv.Engine;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;
using Pv.Scenarios.Store;
using Spectre.Console;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv history</c> command.</summary>
internal static class HistoryCommand
{
    /// <summary>One run of a command: the rows of one session, newest first.</summary>
    private sealed record Group(string Id, string Kind, IReadOnlyList<StoredRun> Rows, IReadOnlyList<string> Backends, string? Command)
    {
        public string Finished => Rows.Max(r => r.FinishedAt)!;
        public StoredRun First => Rows[0];
    }

    public static Command Create(CommandSupport s)
    {
        var limit = new Option<int>("--limit") { Description = "How many runs (groups) to show, newest first.", DefaultValueFactory = _ => 50 };
        var scenario = new Option<string>("--scenario") { Description = "Only runs of a scenario whose path contains this text." };
        var backend = new Option<string>("--backend") { Description = "Only runs on this backend (either side of a comparison)." };
        var kind = new Option<string>("--kind") { Description = "Only runs of this command: run, explore or ab." };
        kind.AcceptOnlyFromAmong("run", "explore", "ab");
        var verdict = new Option<string>("--verdict") { Description = "Only runs that found this verdict (O1..O7, deadlock, step-limit) in some unit; clean: only runs clean in every unit." };
        var since = new Option<string>("--since") { Description = "Only runs finished since: a UTC date or time (2026-12-01, 2026-12-01T10:00) or an age (30m, 12h, 7d)." };
        var command = new Command("history", "Show past runs from the results store, a comparison or a search folded into one line.")
            { limit, scenario, backend, kind, verdict, since, s.Db, s.Json };
        command.SetAction(parse => s.Guard(() =>
        {
            Verdict? wanted = parse.GetValue(verdict) is { } text ? Verdicts.TryParse(text, out var v) ? v
                : throw new PvInputException($"--verdict {text}: expected clean, O1..O7, deadlock or step-limit") : null;
            string? from = parse.GetValue(since) is { } when ? Since(when) : null;
            string path = s.Full(parse.GetValue(s.Db)!);
            using var store = ResultsStore.OpenToRead(path);
            var commands = store.ComparisonCommands();
            var groups = store.Recent(int.MaxValue).GroupBy(r => r.Session)
                .Select(g => Describe(store, g.Key, [.. g], commands.GetValueOrDefault(g.Key)))
                .Where(g => parse.GetValue(kind) is not { } k || g.Kind == k)
                .Where(g => parse.GetValue(scenario) is not { } sc || g.First.Scenario.Contains(sc, StringComparison.OrdinalIgnoreCase))
                .Where(g => parse.GetValue(backend) is not { } b || g.Backends.Contains(b))
                .Where(g => wanted is not { } w || (w == Verdict.Clean ? g.Rows.All(r => r.Verdict == Verdict.Clean) : g.Rows.Any(r => r.Verdict == w)))
                .Where(g => from is null || string.CompareOrdinal(g.Finished, from) >= 0)
                .Take(parse.GetValue(limit)).ToList();
            s.ReportSkipped(store);
            if (parse.GetValue(s.Json))
            {
                s.WriteJson(new
                {
                    store = path,
                    units = new
                    {
                        metrics = $"ab: mean per run over the batch of PCT schedules of the seed (the real value: the store keeps integer thousandths, divided by {AbSession.StoreScale:0} here); run: the counters of the one run; explore: search.exhausted = 1 when the chunk searched every schedule within the bound",
                        elapsedMs = "wall time of the unit, milliseconds",
                        finishedAt = "UTC, ISO 8601",
                    },
                    skippedRows = store.SkippedRows.Count,
                    runs = groups.Select(g => new
                    {
                        id = g.Id, kind = g.Kind, scenario = g.First.Scenario, scenarioSha256 = g.First.ScenarioHash, backends = g.Backends, command = g.Command,
                        finishedAt = g.Finished, units = g.Rows.Count, schedules = g.Rows.Sum(r => r.Schedules), verdicts = VerdictsOf(g),
                        pvVersion = g.First.PvVersion,
                        rows = g.Rows.OrderBy(r => r.Backend == g.Backends[0] ? 0 : 1).ThenBy(r => r.Seed).Select(r => new
                        {
                            backend = r.Backend, seed = r.Seed, schedules = r.Schedules, verdict = r.Verdict.ToText(), pluginVersion = r.PluginVersion, pluginSha256 = r.PluginSha256,
                            metrics = r.Metrics.ToDictionary(m => m.Key, m => r.Kind == "ab" ? m.Value / AbSession.StoreScale : m.Value),
                            elapsedMs = r.ElapsedMs, finishedAt = r.FinishedAt,
                        }),
                    }),
                });
                return PvExitCode.Ok;
            }
            var table = new Table().Border(TableBorder.Rounded).AddColumns("Finished (UTC)", "Id", "Kind", "Scenario", "Backend", "Units", "Schedules", "Verdicts", "s");
            foreach (var g in groups)
                table.AddRow(g.Finished[..19], g.Id, g.Kind, Markup.Escape(Path.GetFileName(g.First.Scenario)), Markup.Escape(string.Join(" vs ", g.Backends)),
                    Units(g), g.Rows.Sum(r => r.Schedules).ToString("N0"), Markup.Escape(VerdictsOf(g)), (g.Rows.Sum(r => r.ElapsedMs) / 1000).ToString("N1"));
            Terminal.Create(s.Output).Write(table);
            s.Output.WriteLine($"{groups.Count} group(s): a comparison or a search is one line (pv history --json lists every unit; pv report ID renders a comparison)");
            s.Output.WriteLine($"{groups.Sum(g => g.Rows.Count)} run(s) from {path}{(store.SkippedRows.Count == 0 ? "" : $"; {store.SkippedRows.Count} unreadable row(s) skipped")}");
            return PvExitCode.Ok;
        }));
        return command;
    }

    private static Group Describe(ResultsStore store, string session, List<StoredRun> rows, string? command)
    {
        var backends = rows.Select(r => r.Backend).Distinct().Order(StringComparer.Ordinal).ToList();
        // A comparison's sides in order: A then B, as stored with it (an older store's: by name).
        if (rows[0].Kind == "ab" && command is not null && store.FindComparison(session) is { } c) backends = [.. new[] { c.A, c.B }.Distinct()];
        return new Group(session, rows[0].Kind, rows, backends, command);
    }

    private static string Units(Group g) => g.Kind switch
    {
        "ab" => $"{g.Rows.Count(r => r.Backend == g.Backends[0])} seeds x {g.Backends.Count}",
        "explore" => $"{g.Rows.Count} chunk(s)",
        _ => $"{g.Rows.Count} run(s)",
    };

    /// <summary>Each backend's verdicts over its units: <c>xen-pv-2012: O2 4/4; xen-pv: clean 4/4</c>.</summary>
    private static string VerdictsOf(Group g) => string.Join("; ", g.Backends.Select(b =>
    {
        var mine = g.Rows.Where(r => r.Backend == b).ToList();
        string counts = string.Join(", ", mine.GroupBy(r => r.Verdict).OrderBy(v => v.Key == Verdict.Clean).Select(v => $"{v.Key.ToText()} {v.Count()}/{mine.Count}"));
        return g.Backends.Count == 1 ? counts : $"{b}: {counts}";
    }));

    /// <summary>--since as the UTC ISO 8601 text rows are compared with: a date, a time, or an age back from now.</summary>
    /// <exception cref="PvInputException">Neither.</exception>
    private static string Since(string when)
    {
        if (when.Length > 1 && double.TryParse(when[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double n) && n >= 0
            && when[^1] switch { 'm' => TimeSpan.FromMinutes(n), 'h' => TimeSpan.FromHours(n), 'd' => TimeSpan.FromDays(n), _ => (TimeSpan?)null } is { } age)
            return (DateTime.UtcNow - age).ToString("O");
        if (DateTime.TryParse(when, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
            return time.ToString("O");
        throw new PvInputException($"--since {when}: expected a UTC date or time (2026-12-01, 2026-12-01T10:00) or an age (30m, 12h, 7d)");
    }
}
