// `pv conform --backend B [--config FILE] [--dir ZOO] [--schedules N]`: checks a CPU backend the way a plugin
// author needs before trusting its verdicts (Conformance: it composes; the zoo's fixed entries of its MMU model
// are clean on it, each failure saying what broke and why backends usually break it; its runs are deterministic;
// its flushes are counted and charged). Prints a table of the checks. Exit 0 if every check passed, 1 if one
// failed, 2 for bad input (no such backend, a secondary MMU, no zoo folder).
using System.CommandLine;
using Pv.Engine;
using Pv.Scenarios.Conformance;
using Spectre.Console;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv conform</c> command.</summary>
internal static class ConformCommand
{
    public static Command Create(CommandSupport s)
    {
        var backend = new Option<string>("--backend", "-b") { Description = "The backend to check (a CPU backend of plugins.json).", Required = true };
        var dir = new Option<string>("--dir") { Description = "The zoo folder holding the litmus entries (default: as pv zoo finds it)." };
        var schedules = new Option<long?>("--schedules", "-n") { Description = "Schedules per litmus entry (default: each entry's own budget)." };
        var command = new Command("conform", "Check a CPU backend: it composes, the zoo's fixed entries are clean on it, its runs are deterministic, its flushes are counted.")
            { backend, dir, schedules, s.Config, s.Json, s.TimeLimit };
        command.SetAction(parse => s.Guard(() =>
        {
            using var catalog = s.LoadCatalog(parse);
            string name = parse.GetValue(backend)!;
            var resolved = catalog.Backends.FirstOrDefault(b => b.Name == name) ?? throw new PvInputException($"--backend {name}: {catalog.NoBackendNamed(name)}");
            if (parse.GetValue(schedules) is < 1) throw new PvInputException("--schedules must be at least 1");
            string folder = parse.GetValue(dir) is { } d ? s.Full(d) : ZooCommand.DefaultFolder(s, catalog);
            var report = Conformance.Run(resolved, catalog, folder, parse.GetValue(schedules));
            if (parse.GetValue(s.Json))
                s.WriteJson(new { backend = report.Backend, passed = report.Passed, checks = report.Checks.Select(c => new { kind = c.Kind.ToString(), c.Name, c.Passed, c.Detail }) });
            else
            {
                var table = new Table().Border(TableBorder.Rounded).AddColumns("Check", "", "Detail");
                foreach (var c in report.Checks)
                    table.AddRow(Markup.Escape(c.Name), c.Passed ? "[green]passed[/]" : "[red]FAILED[/]", Markup.Escape(c.Detail));
                Terminal.Create(s.Output).Write(table);
                int failed = report.Checks.Count(c => !c.Passed);
                s.Output.WriteLine($"{report.Backend}: {report.Checks.Count - failed} of {report.Checks.Count} checks passed");
            }
            return PvExitCode.ForChecks(report.Passed);
        }, "nothing was stored; run the command again", parse.GetValue(s.TimeLimit)));
        return command;
    }
}
