// The message of a System.Text.Json error as one line a user can read, for every JSON input Pv reads (plugins.json,
// counterexamples): the reader's position suffix is cut (the diagnostic carries the position), and a bad literal,
// which the reader quotes together with everything after it up to the end of the file, is cut to its first word.
using System.Text.RegularExpressions;

namespace Pv.Hosting.Config;

/// <summary>One-line JSON error messages.</summary>
public static partial class JsonErrorText
{
    /// <summary><paramref name="message"/> (a JsonException's) without its position suffix, on one line, a quoted bad literal cut short.</summary>
    public static string OneLine(string message)
    {
        int cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        message = (cut > 0 ? message[..cut] : message).TrimEnd();
        if (InvalidLiteral().Match(message) is { Success: true } bad)
            message = $"'{bad.Groups[1].Value}' {bad.Groups[2].Value}";
        return message.ReplaceLineEndings(" ");
    }

    [GeneratedRegex(@"^'([^\s']{0,40}).*?' (is an invalid JSON literal\..*)$", RegexOptions.Singleline)]
    private static partial Regex InvalidLiteral();
}
