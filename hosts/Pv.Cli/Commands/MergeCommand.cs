// `pv merge OUT IN...`: gathers the results stores of shards (--shard K/N, each on its own --db) into OUT
// (StoreMerge: created when missing; the rows one unsharded run would have stored; idempotent). Prints what was
// added, already there, or left out past a search's first violation. Exit 0; 2 when an input is not a Pv
// results store, the stores disagree on a session or a unit (nothing is written then), or OUT cannot be written.
using System.CommandLine;
using Pv.Scenarios.Store;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv merge</c> command.</summary>
internal static class MergeCommand
{
    public static Command Create(CommandSupport s)
    {
        var output = new Argument<string>("OUT") { Description = "The store to merge into (created when missing; its rows are kept)." };
        var inputs = new Argument<string[]>("IN") { Description = "The stores to merge (e.g. one per shard).", Arity = ArgumentArity.OneOrMore };
        var command = new Command("merge", "Merge results stores (e.g. of --shard runs) into one, as one unsharded run would have stored them.")
            { output, inputs, s.Json };
        command.SetAction(parse => s.Guard(() =>
        {
            string into = s.Full(parse.GetValue(output)!);
            var from = parse.GetValue(inputs)!.Select(s.Full).ToList();
            var r = StoreMerge.Merge(into, from);
            s.ReportSkipped(r.Skipped);
            if (parse.GetValue(s.Json))
                s.WriteJson(new { output = into, inputs = from, r.Read, r.Added, r.AlreadyThere, r.PastViolation, skipped = r.Skipped.Count });
            else
                s.Output.WriteLine($"merged {from.Count} store(s) into {into}: {r.Read} row(s) read, {r.Added} added, {r.AlreadyThere} already there, " +
                    $"{r.PastViolation} past a search's first violation left out{(r.Skipped.Count == 0 ? "" : $"; {r.Skipped.Count} unreadable row(s) skipped")}");
            return PvExitCode.Ok;
        }));
        return command;
    }
}
