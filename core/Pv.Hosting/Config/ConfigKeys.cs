// The answer to a key nobody declares, the same for option keys, cost keys and kernel toggles: a key that is an
// old spelling of a known one (kebab-case or PascalCase, from before every JSON key became camelCase) is named
// with its new spelling; a near miss (two edits or fewer) gets "did you mean"; otherwise the known keys are listed.
namespace Pv.Hosting.Config;

/// <summary>Messages for unknown configuration keys.</summary>
internal static class ConfigKeys
{
    /// <summary>
    /// "<paramref name="subject"/> was renamed 'x'" when <paramref name="key"/> spells a known key another way, else
    /// "<paramref name="subject"/> <paramref name="problem"/>; did you mean 'x'? known keys: …".
    /// </summary>
    /// <param name="subject">What is named, with the key: <c>option 'set-ptes-mark'</c>.</param>
    /// <param name="key">The key as written.</param>
    /// <param name="problem">Why it is refused: <c>is not declared for arch profile 'uml'</c>.</param>
    /// <param name="known">The keys accepted here, in the order to list them.</param>
    public static string Unknown(string subject, string key, string problem, IReadOnlyCollection<string> known)
    {
        string normal = Normal(key);
        if (known.FirstOrDefault(k => Normal(k) == normal) is { } renamed) return $"{subject} was renamed '{renamed}'";
        string? near = known.Select(k => (Key: k, Distance: Distance(k, key))).Where(k => k.Distance <= 2)
            .OrderBy(k => k.Distance).ThenBy(k => k.Key, StringComparer.Ordinal).Select(k => k.Key).FirstOrDefault();
        return $"{subject} {problem}; {(near is null ? "" : $"did you mean '{near}'? ")}known keys: {List(known)}";
    }

    /// <summary>The keys separated by commas, or <c>(none)</c>.</summary>
    public static string List(IEnumerable<string> keys)
    {
        var list = keys.ToList();
        return list.Count == 0 ? "(none)" : string.Join(", ", list);
    }

    /// <summary>The key without separators, lower case: <c>set-ptes-mark</c>, <c>SetPtesMark</c> and <c>setPtesMark</c> agree.</summary>
    private static string Normal(string key) =>
        string.Concat(key.Where(c => c is not ('-' or '_' or '.' or ' ')).Select(char.ToLowerInvariant));

    /// <summary>Levenshtein distance, case-insensitive (keys are short).</summary>
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                bool same = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]);
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (same ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
