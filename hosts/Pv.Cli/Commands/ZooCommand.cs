// `pv zoo [--backend B] [--dir D]`: runs every scenario of scenarios/zoo (or only those on backend B; Zoo.RunAll)
// and prints entry, backend, expected, found, schedules to the first counterexample and time. Exit 0 only if
// every entry behaves as its file expects; 1 otherwise; 2 if an entry cannot be read; 4 if a plugin faulted in an
// entry (the other entries still run; each fault is listed).
using System.CommandLine;
using Pv.Engine;
using Pv.Scenarios.Running;
using Spectre.Console;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv zoo</c> command.</summary>
internal static class ZooCommand
{
    public static Command Create(CommandSupport s)
    {
        var backend = new Option<string>("--backend", "-b") { Description = "Only the entries that run on this backend." };
        var dir = new Option<string>("--dir") { Description = "The zoo folder (default: scenarios/zoo of the Pv repository)." };
        var command = new Command("zoo", "Run the bug zoo (docs/model.md: each bug with the fix off and on) and check every entry's expectation.") { backend, dir, s.Config, s.Json, s.TimeLimit };
        command.SetAction(parse => s.Guard(() =>
        {
            using var catalog = s.LoadCatalog(parse);
            string folder = parse.GetValue(dir) is { } d ? s.Full(d) : Zoo.DefaultFolder(catalog);
            if (!Directory.Exists(folder)) throw new PvInputException($"no zoo folder {folder}; pass --dir");
            var zoo = Zoo.RunAll(folder, catalog, parse.GetValue(backend));
            if (parse.GetValue(s.Json))
                s.WriteJson(zoo.Entries.Select(e => new { e.Entry, e.File, e.Backend, expected = e.ExpectedText, found = e.FoundText, e.Schedules, ms = e.Elapsed.TotalMilliseconds, asExpected = e.AsExpected, e.Error }));
            else
            {
                var table = new Table().Border(TableBorder.Rounded).AddColumns("Entry", "Backend", "Expected", "Found", "Schedules", "Time", "");
                foreach (var e in zoo.Entries)
                    table.AddRow(Markup.Escape(e.Entry), Markup.Escape(e.Backend), e.ExpectedText, e.FoundText, e.Schedules.ToString("N0"), $"{e.Elapsed.TotalMilliseconds:N0} ms",
                        e.AsExpected ? "[green]ok[/]" : "[red]UNEXPECTED[/]");
                Terminal.Create(s.Output).Write(table);
                foreach (var e in zoo.Entries.Where(e => e.Error is not null && e.Fault is null)) s.Output.WriteLine(e.Error);
                s.Output.WriteLine($"{zoo.AsExpected} of {zoo.Entries.Count} entries as expected");
            }
            return PvExitCode.Worst(zoo.Faults.Select(f => PvExitCode.For(f, s.Error, ""))
                .Append(zoo.AnyError ? PvExitCode.BadInput : zoo.AllAsExpected ? PvExitCode.Ok : PvExitCode.Violation));
        }, "nothing was stored; run the command again", parse.GetValue(s.TimeLimit)));
        return command;
    }
}
