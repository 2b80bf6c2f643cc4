// `pv ab FILE --a B1 --b B2 [--seeds N] [--schedules K] [--report out.html]`: the same scenario or workload
// and the same seeds on two backends (AbSession: each (backend, seed) is one stored row committed when it
// finishes; `--resume` reuses the rows of the same comparison). Prints the verdicts first, then every metric
// with the ratio B/A and its 95% bootstrap interval over seeds. Exit 1 if either side found a violation. A plugin
// fault on one side is printed naming the side (its seeds up to the fault stay stored) while the other side's
// verdicts and metrics still print; exit 4 then. With --shard K/N only the shard's seeds run and what prints is
// over them; the whole comparison is that of the shards' stores merged (pv merge), which this command with
// --resume on the merged store prints without running anything. An unsharded comparison also stores its provenance
// (command line, plugins, counterexamples) for `pv report`. With --report, every violating seed's first violation is
// written as a counterexample (FILE.cx/A-seedN.cx.json) with its HTML view beside it, which the report links.
using System.CommandLine;
using Pv.Engine;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Scenarios.Reports;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;
using Pv.Scenarios.Store;
using Spectre.Console;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv ab</c> command.</summary>
internal static class AbCommand
{
    public static Command Create(CommandSupport s)
    {
        var file = new Argument<string>("FILE") { Description = "The scenario or workload (.pvl)." };
        var a = new Option<string>("--a") { Description = "Backend A (the baseline).", Required = true };
        var b = new Option<string>("--b") { Description = "Backend B.", Required = true };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per side.", DefaultValueFactory = _ => 20 };
        var schedules = new Option<int>("--schedules", "-n") { Description = "PCT schedules per seed.", DefaultValueFactory = _ => 50 };
        var report = new Option<string>("--report") { Description = "Write a self-contained HTML report: headline, what differs with charts, verdicts per seed linking counterexamples, provenance." };
        var resume = new Option<bool>("--resume") { Description = "Reuse the stored seeds of this same comparison." };
        var command = new Command("ab", "Compare two backends on the same scenario and seeds: verdicts, then every metric with B/A and a 95% interval.")
            { file, a, b, seeds, schedules, report, resume, s.Jobs, s.Shard, s.Config, s.Json, s.Db, s.TimeLimit };
        command.SetAction(parse => s.Guard(() =>
        {
            int n = parse.GetValue(seeds), k = parse.GetValue(schedules);
            if (n < 2 || k < 1) throw new PvInputException("--seeds must be at least 2 and --schedules at least 1");
            var shard = s.ShardOf(parse);
            using var catalog = s.LoadCatalog(parse);
            string path = s.Full(parse.GetValue(file)!);
            var (sideA, sideB) = (BoundScenario.Load(path, catalog, parse.GetValue(a)), BoundScenario.Load(path, catalog, parse.GetValue(b)));
            using var store = s.OpenStore(parse);
            var session = new AbSession(sideA, sideB, n, k, catalog, store, s.JobsOf(parse), shard);
            bool json = parse.GetValue(s.Json);
            var tally = new WorkTally(2 * session.SeedsRun.Count, "seed runs", ("seed run not clean", "seed runs not clean"));
            var result = s.WithProgress(json, tally, $"{sideA.Backend.Name} vs {sideB.Backend.Name}", clear: false,
                () => session.Run(parse.GetValue(resume), (done, found) => tally.Report(done, found), s.Interrupt));
            s.ReportSkipped(store);
            string? html = parse.GetValue(report) is { } r ? s.Full(r) : null;
            var record = new ComparisonRecord(session.Key, sideA.Backend.Name, sideB.Backend.Name, n, k, CommandLine(parse), session.Plugins(),
                result.FaultA?.Reason, result.FaultB?.Reason, html is null ? [] : WriteCounterexamples(s, parse, session, result, catalog, html),
                StoredRuns.PvVersion, DateTime.UtcNow.ToString("O"));
            // A shard's seeds are not the comparison: its record would describe a report the store cannot give.
            if (shard.IsAll) store.PutComparison(record);
            if (html is not null) File.WriteAllText(html, HtmlReport.Render(AbReport.Of(session, result, record), html));
            Print(s, json, session, path, result, html);
            var faults = new[] { result.FaultA, result.FaultB }.OfType<PluginFaultException>();
            return PvExitCode.Worst(faults.Select(f => PvExitCode.For(f, s.Error, ""))
                .Append(PvExitCode.ForFindings(result.FoundViolation)));
        }, s.Resumable("each finished seed is stored"), parse.GetValue(s.TimeLimit), units: true));
        return command;
    }

    private static void Print(CommandSupport s, bool json, AbSession session, string path, AbResult result, string? html)
    {
        string nameA = session.A.Backend.Name, nameB = session.B.Backend.Name;
        if (json)
        {
            s.WriteJson(new
            {
                scenario = path, run = session.Key, a = nameA, b = nameB, seeds = session.Seeds, schedulesPerSeed = session.Schedules,
                shard = session.Shard.IsAll ? null : session.Shard.ToString(),
                verdicts = new { a = Side(result.A, result.FaultA), b = Side(result.B, result.FaultB) },
                pluginFaults = new { a = result.FaultA?.Message, b = result.FaultB?.Message },
                perSeed = new { a = result.A.Select(r => new { r.Seed, r.Verdict }), b = result.B.Select(r => new { r.Seed, r.Verdict }) },
                metrics = result.Metrics.Select(m => new { m.Name, meanA = m.MeanA, meanB = m.MeanB, ratio = Num(m.Ratio), low = Num(m.Low), high = Num(m.High) }),
            });
            return;
        }
        s.Output.WriteLine(session.Shard.IsAll
            ? $"{Path.GetFileName(path)}: {session.Seeds} seeds x {session.Schedules} PCT schedules per side"
            : $"{Path.GetFileName(path)}: shard {session.Shard}, {session.SeedsRun.Count} of {session.Seeds} seeds x {session.Schedules} PCT schedules per side");
        s.Output.WriteLine($"  A {nameA}: {Side(result.A, result.FaultA)}");
        s.Output.WriteLine($"  B {nameB}: {Side(result.B, result.FaultB)}");
        if (result.Metrics.Count == 0)
        {
            // A side stopped by a plugin fault before its first seed: the other side's metrics alone.
            foreach (var (name, side) in new[] { ($"A {nameA}", result.A), ($"B {nameB}", result.B) }.Where(x => x.Item2.Count > 0))
                Terminal.Create(s.Output).Write(MeansTable(name, side));
            if (html is not null) s.Output.WriteLine($"report: {html}");
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Metric (mean per run)", $"A {nameA}", $"B {nameB}", "B/A", "95% interval");
        for (int c = 1; c < 5; c++) table.Columns[c].RightAligned();
        foreach (var m in result.Metrics.Where(m => m.MeanA != 0 || m.MeanB != 0))
            table.AddRow(Markup.Escape(m.Name), m.MeanA.ToString("N1"), m.MeanB.ToString("N1"), AbReport.Fmt(m.Ratio), $"{AbReport.Fmt(m.Low)}–{AbReport.Fmt(m.High)}");
        Terminal.Create(s.Output).Write(table);
        if (html is not null) s.Output.WriteLine($"report: {html}");
        if (session.Shard.IsAll) s.Output.WriteLine($"run {session.Key}: pv report {session.Key} renders it again (--format html, md, csv or json)");
    }

    /// <summary>The command line as given, for the report's provenance: <c>pv ab FILE --a x --b y ...</c>.</summary>
    private static string CommandLine(ParseResult parse) =>
        string.Join(' ', parse.Tokens.Select(t => t.Value).Prepend("pv").Select(CommandSupport.ShellWord));

    /// <summary>
    /// The counterexample of each violating seed (its batch's first violation, found again: runs are deterministic), written
    /// beside the report as <c>REPORT.cx/A-seedN.cx.json</c> with its HTML view.
    /// </summary>
    private static List<CounterexampleLink> WriteCounterexamples(CommandSupport s, ParseResult parse, AbSession session, AbResult result, PluginCatalog catalog, string html)
    {
        string folder = Path.Combine(Path.GetDirectoryName(html)!, Path.GetFileNameWithoutExtension(html) + ".cx");
        var links = new List<CounterexampleLink>();
        foreach (var (side, bound, seeds) in new[] { ("A", session.A, result.A), ("B", session.B, result.B) })
            foreach (var seed in seeds.Where(r => r.Verdict.IsViolation()))
            {
                if (AbComparison.FirstViolation(bound, seed.Seed, session.Schedules) is not { } cx) continue;
                string file = Path.Combine(folder, $"{side}-seed{seed.Seed}.cx.json");
                cx.Save(file);
                string page = CounterexampleHtml.PathFor(file);
                CounterexampleHtml.Write(page, cx, CounterexampleReplay.Run(cx, catalog, file), s.PvCommand(parse, "replay", file));
                links.Add(new CounterexampleLink(side, seed.Seed, cx.Invariant.ToText(), file, page));
            }
        return links;
    }

    private static double? Num(double v) => double.IsNaN(v) ? null : v;

    /// <summary>A side's verdicts, or where a plugin fault stopped it.</summary>
    private static string Side(IReadOnlyList<SeedResult> seeds, PluginFaultException? fault) => AbReport.SideText(seeds, fault?.Reason);

    /// <summary>The mean over seeds of each metric of one side.</summary>
    private static Table MeansTable(string side, IReadOnlyList<SeedResult> seeds)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Metric (mean per run)", side);
        table.Columns[1].RightAligned();
        foreach (var name in seeds.SelectMany(r => r.Metrics.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            double mean = seeds.Average(r => r.Metrics.GetValueOrDefault(name));
            if (mean != 0) table.AddRow(Markup.Escape(name), mean.ToString("N1"));
        }
        return table;
    }
}
