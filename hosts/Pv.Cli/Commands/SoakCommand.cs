// `pv soak [--scenarios N] [--schedules N] [--seed S] [--backend B]... [--option NAME=on|off]... [--out DIR]`:
// generated concurrent scenarios on every backend, PCT and random each (SoakRunner). Prints schedules run,
// scenarios, violations per backend and invariant, every finding with its files, elapsed time and rate; the
// detection rate (scenarios with a violation / scenarios) measures a toggle turned off. Exit 1 on any finding,
// 0 when clean, 2 on bad usage (an unknown backend or option, a malformed --option).
using System.CommandLine;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Soak;
using Spectre.Console;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv soak</c> command.</summary>
internal static class SoakCommand
{
    public static Command Create(CommandSupport s)
    {
        var scenarios = new Option<int>("--scenarios") { Description = "Scenarios to generate.", DefaultValueFactory = _ => 100 };
        var schedules = new Option<long>("--schedules", "-n") { Description = "Schedules per scenario, per backend, per strategy (pct and random).", DefaultValueFactory = _ => 200 };
        var seed = new Option<ulong>("--seed") { Description = "First generator seed (scenario i uses seed + i).", DefaultValueFactory = _ => 0 };
        var backend = new Option<string[]>("--backend", "-b")
        {
            Description = $"A CPU backend to soak (repeatable; default: {string.Join(", ", SoakRunner.DefaultBackends)}).",
            AllowMultipleArgumentsPerToken = false,
        };
        var option = new Option<string[]>("--option") { Description = "NAME=on|off: an era toggle written into every scenario (repeatable)." };
        var output = new Option<string>("--out", "-o") { Description = "Folder for findings: each scenario .pvl and its counterexamples.", DefaultValueFactory = _ => "soak-findings" };
        var command = new Command("soak", "Generate random concurrent scenarios and search them on every backend; save every violation.")
            { scenarios, schedules, seed, backend, option, output, s.Config, s.Json };
        command.SetAction(parse => s.Guard(() =>
        {
            int n = parse.GetValue(scenarios);
            long k = parse.GetValue(schedules);
            if (n < 1 || k < 1) { s.Error.WriteLine("pv: --scenarios and --schedules must be at least 1"); return PvExitCode.BadInput; }
            var toggles = new List<KeyValuePair<string, bool>>();
            foreach (var text in parse.GetValue(option) ?? [])
            {
                int eq = text.IndexOf('=');
                string name = eq < 0 ? text : text[..eq], value = eq < 0 ? "" : text[(eq + 1)..];
                if (value is not ("on" or "off"))
                {
                    s.Error.WriteLine($"pv: --option {text}: expected NAME=on or NAME=off");
                    return PvExitCode.BadInput;
                }
                toggles.Add(new(name, value == "on"));
            }
            using var catalog = s.LoadCatalog(parse);
            if (catalog is null) return PvExitCode.BadInput;
            var names = parse.GetValue(backend) is { Length: > 0 } given ? given.Distinct().ToList() : SoakRunner.DefaultBackends.ToList();
            var options = new SoakOptions(n, k, parse.GetValue(seed), names, toggles, s.Full(parse.GetValue(output)!));
            try
            {
                SoakRunner.Validate(options, catalog);
            }
            catch (ArgumentException e)
            {
                s.Error.WriteLine($"pv: {e.Message}");
                return PvExitCode.BadInput;
            }
            bool json = parse.GetValue(s.Json);
            SoakResult result;
            if (json || !Terminal.IsInteractive(s.Output)) result = SoakRunner.Run(options, catalog);
            else
            {
                result = null!;
                Terminal.Create(s.Output).Progress().AutoClear(true).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"soak on {names.Count} backend(s)", maxValue: n);
                        result = SoakRunner.Run(options, catalog, i => task.Value = i + 1);
                    });
            }

            var byInvariant = result.Findings.GroupBy(f => (f.Backend, f.Verdict)).OrderBy(g => g.Key.Backend, StringComparer.Ordinal).ThenBy(g => g.Key.Verdict, StringComparer.Ordinal)
                .Select(g => new { backend = g.Key.Backend, verdict = g.Key.Verdict, findings = g.Count(), scenarios = g.Select(f => f.ScenarioSeed).Distinct().Count() }).ToList();
            if (json)
                s.WriteJson(new
                {
                    scenarios = result.Scenarios, schedules = result.SchedulesRun, schedulesPerStrategy = k, seed = options.Seed,
                    options = toggles.Select(t => $"{t.Key}={(t.Value ? "on" : "off")}"),
                    backends = result.Backends.Select(b => new { backend = b.Backend, b.Schedules, b.ScenariosWithViolation, detectionRate = (double)b.ScenariosWithViolation / result.Scenarios }),
                    scenariosWithViolation = result.ScenariosWithViolation, detectionRate = result.DetectionRate, byInvariant,
                    findings = result.Findings.Select(f => new { seed = f.ScenarioSeed, f.Backend, f.Strategy, f.Verdict, f.Message, scenario = f.ScenarioFile, counterexample = f.CounterexampleFile, f.Schedules }),
                    elapsedMs = result.Elapsed.TotalMilliseconds, schedulesPerSecond = result.Rate,
                });
            else
            {
                var table = new Table().Border(TableBorder.Rounded).AddColumns("Backend", "Schedules", "Scenarios with a violation", "Findings");
                foreach (var b in result.Backends)
                {
                    var mine = byInvariant.Where(x => x.backend == b.Backend).Select(x => $"{x.verdict} ×{x.findings}");
                    table.AddRow(Markup.Escape(b.Backend), b.Schedules.ToString("N0"), $"{b.ScenariosWithViolation}/{result.Scenarios}", Markup.Escape(string.Join(", ", mine)));
                }
                Terminal.Create(s.Output).Write(table);
                foreach (var f in result.Findings)
                {
                    s.Output.WriteLine($"{f.Verdict} on {f.Backend} ({f.Strategy}, seed {f.ScenarioSeed}): {f.Message}");
                    s.Output.WriteLine($"  scenario: {f.ScenarioFile}");
                    if (f.CounterexampleFile is { } cx) s.Output.WriteLine($"  replay it: pv replay {cx}");
                }
                s.Output.WriteLine($"{result.Scenarios} scenarios, {result.SchedulesRun:N0} schedules, {result.Findings.Count} finding(s); " +
                    $"detection rate {result.ScenariosWithViolation}/{result.Scenarios} ({result.DetectionRate:P1}); {result.Elapsed.TotalSeconds:N1} s, {result.Rate:N0} schedules/s");
            }
            return result.Findings.Count > 0 ? PvExitCode.Violation : PvExitCode.Ok;
        }));
        return command;
    }
}
