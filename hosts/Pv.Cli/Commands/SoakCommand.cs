// `pv soak [--scenarios N] [--schedules N] [--seed S] [--backend B]... [--option NAME=on|off]... [--out DIR]`:
// generated concurrent scenarios on every backend, PCT and random each (SoakRunner). Prints schedules run,
// scenarios, violations per backend and invariant, every finding with its files, elapsed time and rate; the
// detection rate (scenarios with a violation / scenarios) measures a toggle turned off. Exit 1 on a violation,
// 0 when clean, 2 on bad usage (an unknown backend or option, a malformed --option), 3 when a finding is an
// internal error or a generated scenario the parser refused (bugs in Pv), 4 when one is a plugin fault (the
// other backends and scenarios still run; each fault is listed with its files). With --shard K/N only scenarios i
// with i mod N = K run and what prints counts only them; the shards may share --out (files are named by seed).
// On a terminal the scenarios done, the rate, the time left and the findings so far are drawn live; Ctrl-C lets the
// scenarios in flight finish (their findings saved) and prints how many were done and the command to run again (exit 130).
using System.CommandLine;
using Pv.Engine;
using Pv.Scenarios.Running;
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
            { scenarios, schedules, seed, backend, option, output, s.Jobs, s.Shard, s.Config, s.Json, s.TimeLimit };
        command.SetAction(parse => s.Guard(() =>
        {
            int n = parse.GetValue(scenarios);
            long k = parse.GetValue(schedules);
            if (n < 1 || k < 1) throw new PvInputException("--scenarios and --schedules must be at least 1");
            var shard = s.ShardOf(parse);
            var toggles = new List<KeyValuePair<string, bool>>();
            foreach (var text in parse.GetValue(option) ?? [])
            {
                if (!SoakRunner.TryParseToggle(text, out var toggle)) throw new PvInputException($"--option {text}: expected NAME=on or NAME=off");
                toggles.Add(toggle);
            }
            using var catalog = s.LoadCatalog(parse);
            var names = parse.GetValue(backend) is { Length: > 0 } given ? given.Distinct().ToList() : SoakRunner.DefaultBackends.ToList();
            var plan = SoakRunner.Validate(new SoakOptions(n, k, parse.GetValue(seed), names, toggles, s.Full(parse.GetValue(output)!)), catalog);
            bool json = parse.GetValue(s.Json);
            var tally = new WorkTally(shard.Of(Enumerable.Range(0, n)).Count, "scenarios", ("finding", "findings"));
            var result = s.WithProgress(json, tally, $"soak on {names.Count} backend(s)", clear: true,
                () => SoakRunner.Run(plan, (done, found) => tally.Report(done, found), s.JobsOf(parse), shard, s.Interrupt));
            Print(s, json, plan.Options, shard, result, file => s.PvCommand(parse, "replay", file));
            return PvExitCode.Worst(result.Findings.Select(f => PvExitCode.ForFinding(f.Verdict)));
        }, s.Rerun("the findings so far are saved in the --out folder; nothing else is kept"), parse.GetValue(s.TimeLimit), units: true));
        return command;
    }

    private static void Print(CommandSupport s, bool json, SoakOptions options, Shard shard, SoakResult result, Func<string, string> replayCommand)
    {
        if (json)
        {
            s.WriteJson(new
            {
                scenarios = result.Scenarios, shard = shard.IsAll ? null : shard.ToString(), schedules = result.SchedulesRun, schedulesPerStrategy = options.Schedules, seed = options.Seed,
                options = options.Options.Select(SoakRunner.ToggleText),
                backends = result.Backends.Select(b => new { backend = b.Backend, b.Schedules, b.ScenariosWithViolation, detectionRate = (double)b.ScenariosWithViolation / result.Scenarios }),
                scenariosWithViolation = result.ScenariosWithViolation, detectionRate = result.DetectionRate, byInvariant = result.ByInvariant,
                findings = result.Findings.Select(f => new { seed = f.ScenarioSeed, f.Backend, f.Strategy, f.Verdict, f.Message, scenario = f.ScenarioFile, counterexample = f.CounterexampleFile, f.Schedules }),
                elapsedMs = result.Elapsed.TotalMilliseconds, schedulesPerSecond = result.Rate,
            });
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Backend", "Schedules", "Scenarios with a violation", "Findings");
        foreach (var b in result.Backends)
        {
            var mine = result.ByInvariant.Where(x => x.Backend == b.Backend).Select(x => $"{x.Verdict.ToText()} ×{x.Findings}");
            table.AddRow(Markup.Escape(b.Backend), b.Schedules.ToString("N0"), $"{b.ScenariosWithViolation}/{result.Scenarios}", Markup.Escape(string.Join(", ", mine)));
        }
        Terminal.Create(s.Output).Write(table);
        foreach (var f in result.Findings)
        {
            s.Output.WriteLine($"{f.Verdict.ToText()} on {f.Backend} ({f.Strategy}, seed {f.ScenarioSeed}): {f.Message}");
            s.Output.WriteLine($"  scenario: {f.ScenarioFile}");
            if (f.CounterexampleFile is { } cx) s.Output.WriteLine($"  replay it: {replayCommand(cx)}");
        }
        s.Output.WriteLine($"{(shard.IsAll ? "" : $"shard {shard}: ")}{result.Scenarios} scenarios, {result.SchedulesRun:N0} schedules, {result.Findings.Count} finding(s); " +
            $"detection rate {result.ScenariosWithViolation}/{result.Scenarios} ({result.DetectionRate:P1}); {result.Elapsed.TotalSeconds:N1} s, {result.Rate:N0} schedules/s");
    }
}
