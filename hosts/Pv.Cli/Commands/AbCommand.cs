// `pv ab FILE --a B1 --b B2 [--seeds N] [--schedules K] [--report out.html]`: the same scenario or workload
// and the same seeds on two backends. Each (backend, seed) is one stored row committed when it finishes;
// `--resume` reuses the rows of the same comparison. Prints the verdicts first, then every metric with the
// ratio B/A and its 95% bootstrap interval over seeds. Exit 1 if either side found a violation.
using System.CommandLine;
using Pv.Scenarios.Reports;
using Pv.Scenarios.Running;
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
        var report = new Option<string>("--report") { Description = "Write a self-contained HTML report with SVG charts." };
        var resume = new Option<bool>("--resume") { Description = "Reuse the stored seeds of this same comparison." };
        var command = new Command("ab", "Compare two backends on the same scenario and seeds: verdicts, then every metric with B/A and a 95% interval.")
            { file, a, b, seeds, schedules, report, resume, s.Config, s.Json, s.Db };
        command.SetAction(parse => s.Guard(() =>
        {
            int n = parse.GetValue(seeds), k = parse.GetValue(schedules);
            if (n < 2 || k < 1) { s.Error.WriteLine("pv: --seeds must be at least 2 and --schedules at least 1"); return PvExitCode.BadInput; }
            using var catalog = s.LoadCatalog(parse);
            if (catalog is null) return PvExitCode.BadInput;
            string path = s.Full(parse.GetValue(file)!);
            var sides = new[] { BoundScenario.Load(path, catalog, parse.GetValue(a)), BoundScenario.Load(path, catalog, parse.GetValue(b)) };
            string session = StoredRuns.Session("ab", sides[0].Scenario.Hash, sides[0].Backend.Name, sides[1].Backend.Name, n, k);
            using var store = s.OpenStore(parse);
            var results = new List<SeedResult>[2];
            bool json = parse.GetValue(s.Json);
            void RunAll(Action<int>? tick)
            {
                for (int side = 0; side < 2; side++)
                {
                    var bound = sides[side];
                    var done = parse.GetValue(resume) ? store.Done(session, bound.Backend.Name) : new Dictionary<ulong, StoredRun>();
                    results[side] = [];
                    for (ulong seed = 0; seed < (ulong)n; seed++)
                    {
                        if (done.TryGetValue(seed, out var row))
                            results[side].Add(new SeedResult(seed, row.Verdict, row.Metrics.ToDictionary(m => m.Key, m => m.Value / 1000.0), (int)row.Schedules));
                        else
                        {
                            var clock = System.Diagnostics.Stopwatch.StartNew();
                            var r = AbComparison.RunSeed(bound, seed, k);
                            results[side].Add(r);
                            // Means are stored in thousandths so the store keeps integers.
                            store.Add(StoredRuns.Make("ab", session, bound.Scenario, bound.Backend, catalog, seed, k, r.Verdict,
                                r.Metrics.ToDictionary(m => m.Key, m => (long)Math.Round(m.Value * 1000)), clock.Elapsed));
                        }
                        tick?.Invoke(1);
                    }
                }
            }
            if (json || !Terminal.IsInteractive(s.Output)) RunAll(null);
            else
                Terminal.Create(s.Output).Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"{sides[0].Backend.Name} vs {sides[1].Backend.Name}", maxValue: 2 * n);
                        RunAll(d => task.Increment(d));
                    });
            var result = AbComparison.Compare(results[0], results[1]);
            string nameA = sides[0].Backend.Name, nameB = sides[1].Backend.Name;
            if (parse.GetValue(report) is { } html)
                File.WriteAllText(s.Full(html), HtmlReport.Render(Path.GetFileName(path), nameA, nameB, result));
            bool violation = result.A.Concat(result.B).Any(r => r.Verdict != "clean");
            if (json)
            {
                s.WriteJson(new
                {
                    scenario = path, a = nameA, b = nameB, seeds = n, schedulesPerSeed = k,
                    verdicts = new { a = AbResult.Summary(result.A), b = AbResult.Summary(result.B) },
                    perSeed = new { a = result.A.Select(r => new { r.Seed, r.Verdict }), b = result.B.Select(r => new { r.Seed, r.Verdict }) },
                    metrics = result.Metrics.Select(m => new { m.Name, meanA = m.MeanA, meanB = m.MeanB, ratio = Num(m.Ratio), low = Num(m.Low), high = Num(m.High) }),
                });
                return violation ? PvExitCode.Violation : PvExitCode.Ok;
            }
            var console = Terminal.Create(s.Output);
            s.Output.WriteLine($"{Path.GetFileName(path)}: {n} seeds x {k} PCT schedules per side");
            s.Output.WriteLine($"  A {nameA}: {AbResult.Summary(result.A)}");
            s.Output.WriteLine($"  B {nameB}: {AbResult.Summary(result.B)}");
            var table = new Table().Border(TableBorder.Rounded).AddColumns("Metric (mean per run)", $"A {nameA}", $"B {nameB}", "B/A", "95% interval");
            for (int c = 1; c < 5; c++) table.Columns[c].RightAligned();
            foreach (var m in result.Metrics.Where(m => m.MeanA != 0 || m.MeanB != 0))
                table.AddRow(Markup.Escape(m.Name), m.MeanA.ToString("N1"), m.MeanB.ToString("N1"), HtmlReport.Fmt(m.Ratio), $"{HtmlReport.Fmt(m.Low)}–{HtmlReport.Fmt(m.High)}");
            console.Write(table);
            if (parse.GetValue(report) is { } written) s.Output.WriteLine($"report: {s.Full(written)}");
            return violation ? PvExitCode.Violation : PvExitCode.Ok;
        }));
        return command;
    }

    private static double? Num(double v) => double.IsNaN(v) ? null : v;
}
