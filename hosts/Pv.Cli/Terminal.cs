// A Spectre.Console console over any TextWriter: ANSI colours only on a real terminal, and a wide fixed
// width when the output is redirected or captured so tables do not wrap paths. Live displays (progress) get a
// console of their own, interactive, and only on a terminal: Spectre's non-interactive progress prints a line at
// each 25% instead, which is no use to a long run and would change redirected output.
using Spectre.Console;

namespace Pv.Cli;

/// <summary>Creates Spectre.Console consoles for <c>pv</c>'s output.</summary>
internal static class Terminal
{
    /// <summary>Width used when the output is not a terminal.</summary>
    public const int RedirectedWidth = 200;

    /// <summary>True when <paramref name="output"/> is a real terminal (progress bars are drawn only there).</summary>
    public static bool IsInteractive(TextWriter output) => ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>How wide a line of plain text (a timeline) may be on <paramref name="output"/>: the terminal's width, else <see cref="RedirectedWidth"/>.</summary>
    public static int Width(TextWriter output) => IsInteractive(output) && Console.WindowWidth > 0 ? Console.WindowWidth : RedirectedWidth;

    /// <summary>A console writing to <paramref name="output"/>.</summary>
    public static IAnsiConsole Create(TextWriter output)
    {
        bool terminal = IsInteractive(output);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = RedirectedWidth;
        return console;
    }

    /// <summary>An interactive console for live progress on <paramref name="output"/>, or null when it is not a terminal.</summary>
    public static IAnsiConsole? CreateLive(TextWriter output) => IsInteractive(output)
        ? AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.Detect,
            ColorSystem = ColorSystemSupport.Detect,
            Interactive = InteractionSupport.Yes,
        })
        : null;
}
