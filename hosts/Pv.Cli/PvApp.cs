// The `pv` command line: System.CommandLine parses, each command writes to the writers it is given and
// returns an exit code (PvExitCode). A usage error (unknown option or command, missing command) prints the
// parser's messages to the error writer and exits 2.
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
        Run(args, output, error, currentDirectory, CancellationToken.None);

    /// <summary>
    /// Runs <c>pv</c> with <paramref name="args"/> as <see cref="Run(string[], TextWriter, TextWriter, string)"/> does, stopped by
    /// the host: <paramref name="interrupt"/> (the first Ctrl-C) lets the work in flight finish and exits 130 saying what
    /// completed and how to go on, <paramref name="stopNow"/> (the second) stops at the next schedule. Live progress is drawn
    /// on <paramref name="live"/> when given (a test's console), else on <paramref name="output"/> when it is a terminal.
    /// </summary>
    internal static int Run(string[] args, TextWriter output, TextWriter error, string currentDirectory,
        CancellationToken interrupt, CancellationToken stopNow = default, Spectre.Console.IAnsiConsole? live = null)
    {
        var root = new RootCommand("Pv: a deterministic simulator of Linux TLB and page-table coherence with pluggable backends.");
        var version = root.Options.OfType<VersionOption>().Single();
        version.Action = new PrintVersion(output);
        var support = new CommandSupport(output, error, currentDirectory, args, interrupt, stopNow, live);
        root.Subcommands.Add(PluginsCommand.Create(support));
        root.Subcommands.Add(RunCommand.Create(support));
        root.Subcommands.Add(ExploreCommand.Create(support));
        root.Subcommands.Add(ReplayCommand.Create(support));
        root.Subcommands.Add(AbCommand.Create(support));
        root.Subcommands.Add(ZooCommand.Create(support));
        root.Subcommands.Add(ConformCommand.Create(support));
        root.Subcommands.Add(SoakCommand.Create(support));
        root.Subcommands.Add(HistoryCommand.Create(support));
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

    /// <summary><c>--version</c>: the version of pv itself, whoever hosts the process.</summary>
    private sealed class PrintVersion(TextWriter output) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            output.WriteLine(Version);
            return PvExitCode.Ok;
        }
    }
}
