// `pv report RUN [--format html|md|csv|json] [-o FILE] [--db FILE]`: renders a stored A/B comparison again from the
// results store, without running anything: RUN is its id as `pv history` and `pv ab` print it (a prefix naming one
// comparison will do; `last` is the latest). The same rows give the same report `pv ab --report` wrote (HTML), or
// Markdown, CSV or JSON of it; written to FILE, else to standard output. A store written by an older Pv (no
// comparisons table) still reports, without the command line and counterexamples it did not keep.
using System.CommandLine;
using Pv.Scenarios.Reports;
using Pv.Scenarios.Store;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv report</c> command.</summary>
internal static class ReportCommand
{
    public static Command Create(CommandSupport s)
    {
        var run = new Argument<string>("RUN") { Description = "The comparison's id (pv history lists them; a unique prefix will do), or 'last'." };
        var format = new Option<string>("--format") { Description = "html, md, csv or json (default: html when -o names a .html file, else md).", };
        format.AcceptOnlyFromAmong("html", "md", "csv", "json");
        var output = new Option<string>("--out", "-o") { Description = "Write the report to this file (default: standard output)." };
        var command = new Command("report", "Render a stored A/B comparison again: HTML, Markdown, CSV or JSON.") { run, format, output, s.Db };
        command.SetAction(parse => s.Guard(() =>
        {
            string? file = parse.GetValue(output) is { } o ? s.Full(o) : null;
            string chosen = parse.GetValue(format) ?? (file is not null && file.EndsWith(".html", StringComparison.OrdinalIgnoreCase) ? "html" : "md");
            using var store = ResultsStore.OpenToRead(s.Full(parse.GetValue(s.Db)!));
            var report = AbReport.Load(store, parse.GetValue(run)!);
            s.ReportSkipped(store);
            string text = chosen switch
            {
                "html" => HtmlReport.Render(report, file),
                "csv" => AbReportText.Csv(report),
                "json" => AbReportText.JsonText(report),
                _ => AbReportText.Markdown(report),
            };
            if (file is null) s.Output.Write(text);
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                File.WriteAllText(file, text);
                s.Output.WriteLine($"report: {file}");
            }
            return PvExitCode.Ok;
        }));
        return command;
    }
}
