// The `pv` command line: System.CommandLine parses, each command writes to the writers it is given and
// returns an exit code (PvExitCode). A usage error (unknown option or command) prints the parser's messages to the
// error writer and exits 2; pv with no arguments at all prints the help and exits 0 (a first try, not a mistake).
// --version prints pv's version, then the plugins the default plugins.json loads, and never fails on a broken one.
using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using Pv.Cli.Commands;

namespace Pv.Cli;

/// <summary>The <c>pv</c> application.</summary>
public static class PvApp
{
    /// <summary>The version <c>pv --version</c> prints (the informational version of this assembly).</summary>
    public static string Version { get; } =
        typeof(PvApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(PvApp).Assembly.GetName().Version!.ToString();

    /// <summary>Runs <c>pv</c> with <paramref name="args"/>.</summary>
    /// <param name="args">The command-line arguments, without the program name.</param>
    /// <param name="output">Where results go.</param>
    /// <param name="error">Where errors and usage messages go.</param>
    /// <param name="currentDirectory">The folder relative paths and the default plugins.json are resolved against.</param>
    /// <returns>A <see cref="PvExitCode"/>.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter error, string currentDirectory) =>
        Run(args, output, error, ConfigLocator.ForProcess(currentDirectory), CancellationToken.None);

    /// <summary>
    /// Runs <c>pv</c> with <paramref name="args"/> as <see cref="Run(string[], TextWriter, TextWriter, string)"/> does, stopped by
    /// the host: <paramref name="interrupt"/> (the first Ctrl-C) lets the work in flight finish and exits 130 saying what
    /// completed and how to go on, <paramref name="stopNow"/> (the second) stops at the next schedule. Live progress is drawn
    /// on <paramref name="live"/> when given (a test's console), else on <paramref name="output"/> when it is a terminal.
    /// </summary>
    internal static int Run(string[] args, TextWriter output, TextWriter error, string currentDirectory,
        CancellationToken interrupt, CancellationToken stopNow = default, Spectre.Console.IAnsiConsole? live = null) =>
        Run(args, output, error, ConfigLocator.ForProcess(currentDirectory), interrupt, stopNow, live);

    /// <summary>
    /// Runs <c>pv</c> with <paramref name="args"/>, looking for the default plugins.json and zoo where <paramref name="locator"/>
    /// says, stopped by the host as the overload taking a folder is.
    /// </summary>
    internal static int Run(string[] args, TextWriter output, TextWriter error, ConfigLocator locator,
        CancellationToken interrupt = default, CancellationToken stopNow = default, Spectre.Console.IAnsiConsole? live = null)
    {
        if (args.Length == 0) args = ["--help"];
        var root = new RootCommand("Pv: a deterministic simulator of Linux TLB and page-table coherence with pluggable backends.");
        var version = root.Options.OfType<VersionOption>().Single();
        version.Action = new PrintVersion(output, locator);
        var support = new CommandSupport(output, error, locator, args, interrupt, stopNow, live);
        root.Subcommands.Add(PluginsCommand.Create(support));
        root.Subcommands.Add(RunCommand.Create(support));
        root.Subcommands.Add(ExploreCommand.Create(support));
        root.Subcommands.Add(ReplayCommand.Create(support));
        root.Subcommands.Add(AbCommand.Create(support));
        root.Subcommands.Add(ZooCommand.Create(support));
        root.Subcommands.Add(ConformCommand.Create(support));
        root.Subcommands.Add(SoakCommand.Create(support));
        root.Subcommands.Add(HistoryCommand.Create(support));
        root.Subcommands.Add(ReportCommand.Create(support));
        root.Subcommands.Add(MergeCommand.Create(support));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) error.WriteLine($"pv: {e.Message}");
            error.WriteLine("Run 'pv --help' for usage.");
            return PvExitCode.BadInput;
        }
        return parse.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    /// <summary>
    /// <c>--version</c>: the version of pv itself, whoever hosts the process; then which plugins.json the commands would
    /// load without --config and its plugins (name, version, backends), or that there is none or it is broken (one
    /// line: `pv plugins` shows every problem). Always exit 0: asking for the version is never an error.
    /// </summary>
    private sealed class PrintVersion(TextWriter output, ConfigLocator locator) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            output.WriteLine(Version);
            if (locator.Find() is not { } path)
            {
                output.WriteLine($"plugins: none ({locator.NotFound()})");
                return PvExitCode.Ok;
            }
            using var catalog = Pv.Hosting.PluginCatalog.Load(path);
            output.WriteLine($"plugins.json: {catalog.ConfigPath}");
            foreach (var status in catalog.Plugins.Where(p => p.IsLoaded))
            {
                var backends = catalog.Backends.Where(b => b.Entry.Plugin == status.Name).Select(b => b.Name).ToList();
                output.WriteLine($"  {status.Name} {status.Plugin!.Version}: {(backends.Count > 0 ? string.Join(", ", backends) : "no backend configured")}");
            }
            if (catalog.Diagnostics.Count > 0)
                output.WriteLine($"plugins.json is broken: {catalog.Diagnostics.Count} problem(s), the first: {catalog.Diagnostics[0]}; run 'pv plugins' for all");
            return PvExitCode.Ok;
        }
    }
}
