// One problem found while reading plugins.json, loading a plugin or composing a machine. Every diagnostic
// names where it comes from: the file with the JSON path (and line/column when known), or the plugin,
// or both, so a user can go straight to the entry at fault.
namespace Pv.Hosting;

/// <summary>A place in plugins.json: the file, the JSON path of a value, and its 1-based line and column.</summary>
/// <param name="File">Full path of the plugins.json file.</param>
/// <param name="JsonPath">JSON path of the value, for example <c>$.backends[2].plugin</c>.</param>
/// <param name="Line">1-based line of the value; 0 when unknown.</param>
/// <param name="Column">1-based column of the value; 0 when unknown.</param>
public sealed record PvConfigLocation(string File, string JsonPath, int Line, int Column)
{
    /// <summary><c>file:line:column: $.path</c>, or <c>file: $.path</c> when the position is unknown.</summary>
    public override string ToString() =>
        Line > 0 ? $"{File}:{Line}:{Column}: {JsonPath}" : $"{File}: {JsonPath}";
}

/// <summary>One problem, with where it was found.</summary>
/// <param name="Message">What is wrong and what was expected.</param>
/// <param name="Location">The plugins.json value at fault, when there is one.</param>
/// <param name="Plugin">The plugin at fault, when there is one.</param>
/// <param name="Backend">The backend at fault, when there is one.</param>
public sealed record PvDiagnostic(string Message, PvConfigLocation? Location = null, string? Plugin = null, string? Backend = null)
{
    /// <summary>The location (if any), then <c>plugin 'x'</c> / <c>backend 'y'</c> (if any), then the message.</summary>
    public override string ToString()
    {
        var parts = new List<string>(4);
        if (Location is not null) parts.Add(Location.ToString());
        if (Plugin is not null) parts.Add($"plugin '{Plugin}'");
        if (Backend is not null) parts.Add($"backend '{Backend}'");
        parts.Add(Message);
        return string.Join(": ", parts);
    }
}
