// `pv ab FILE --a B1 --b B2 [--seeds N] [--schedules K] [--report out.html]`: the same scenario or workload
// and the same seeds on two backends (AbSession: each (backend, seed) is one stored row committed when it
// finishes; `--resume` reuses the rows of the same comparison). Prints the verdicts first, then every metric
// with the ratio B/A and its 95% bootstrap interval over seeds. Exit 1 if either side found a violation.
using System.CommandLine;
using Pv.Scenarios.Reports;
using Pv.Scenarios.Running;
using Pv.Scenarios.Sessions;
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
            var (sideA, sideB) = (BoundScenario.Load(path, catalog, parse.GetValue(a)), BoundScenario.Load(path, catalog, parse.GetValue(b)));
            using var store = s.OpenStore(parse);
            var session = new AbSession(sideA, sideB, n, k, catalog, store);
            bool json = parse.GetValue(s.Json);
            var result = s.WithProgress(json, $"{sideA.Backend.Name} vs {sideB.Backend.Name}", 2 * n, clear: false, eta: false,
                progress => session.Run(parse.GetValue(resume), progress is null ? null : done => progress(done)));
            string? html = parse.GetValue(report) is { } r ? s.Full(r) : null;
            if (html is not null) File.WriteAllText(html, HtmlReport.Render(Path.GetFileName(path), sideA.Backend.Name, sideB.Backend.Name, result));
            Print(s, json, session, path, result, html);
            return result.FoundViolation ? PvExitCode.Violation : PvExitCode.Ok;
        }));
        return command;
    }

    private static void Print(CommandSupport s, bool json, AbSession session, string path, AbResult result, string? html)
    {
        string nameA = session.A.Backend.Name, nameB = session.B.Backend.Name;
        if (json)
        {
            s.WriteJson(new
            {
                scenario = path, a = nameA, b = nameB, seeds = session.Seeds, schedulesPerSeed = session.Schedules,
                verdicts = new { a = AbResult.Summary(result.A), b = AbResult.Summary(result.B) },
                perSeed = new { a = result.A.Select(r => new { r.Seed, r.Verdict }), b = result.B.Select(r => new { r.Seed, r.Verdict }) },
                metrics = result.Metrics.Select(m => new { m.Name, meanA = m.MeanA, meanB = m.MeanB, ratio = Num(m.Ratio), low = Num(m.Low), high = Num(m.High) }),
            });
            return;
        }
        s.Output.WriteLine($"{Path.GetFileName(path)}: {session.Seeds} seeds x {session.Schedules} PCT schedules per side");
        s.Output.WriteLine($"  A {nameA}: {AbResult.Summary(result.A)}");
        s.Output.WriteLine($"  B {nameB}: {AbResult.Summary(result.B)}");
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Metric (mean per run)", $"A {nameA}", $"B {nameB}", "B/A", "95% interval");
        for (int c = 1; c < 5; c++) table.Columns[c].RightAligned();
        foreach (var m in result.Metrics.Where(m => m.MeanA != 0 || m.MeanB != 0))
            table.AddRow(Markup.Escape(m.Name), m.MeanA.ToString("N1"), m.MeanB.ToString("N1"), HtmlReport.Fmt(m.Ratio), $"{HtmlReport.Fmt(m.Low)}–{HtmlReport.Fmt(m.High)}");
        Terminal.Create(s.Output).Write(table);
        if (html is not null) s.Output.WriteLine($"report: {html}");
    }

    private static double? Num(double v) => double.IsNaN(v) ? null : v;
}
