// Reads plugins.json into a PluginsConfig. Checks everything that needs only the file: JSON syntax, value
// types, unknown keys (an error: a misspelt key must not be ignored), required keys, duplicate names,
// sha256 format, cost values (non-negative integers) and kernel toggles. Checks that need the loaded plugins
// (paths, plugin names, arch profiles, option keys and values, cost keys) are done by PluginCatalog. Every problem is
// collected as a diagnostic; a malformed entry is left out and the rest is still read.
using System.Globalization;
using System.Text.Json;
using Pv.Engine;

namespace Pv.Hosting.Config;

/// <summary>Reads and shape-checks plugins.json.</summary>
public static class PluginsConfigReader
{
    private static readonly string[] RootKeys = ["plugins", "backends"];
    private static readonly string[] PluginKeys = ["name", "path", "sha256", "options"];
    private static readonly string[] BackendKeys = ["name", "plugin", "archProfile", "description", "options", "cost", "kernel"];

    /// <summary>
    /// Reads <paramref name="path"/>. Problems are added to <paramref name="diagnostics"/>; the result is null
    /// when the file is missing, is not JSON, or its root is not an object with both arrays.
    /// </summary>
    public static PluginsConfig? Read(string path, List<PvDiagnostic> diagnostics)
    {
        string file = Path.GetFullPath(path);
        byte[] bytes;
        try
        {
            bytes = InputFile.Read(file);
        }
        catch (InputFileException e)
        {
            diagnostics.Add(new PvDiagnostic($"cannot read plugins.json: {e.Reason}", new PvConfigLocation(file, "$", 0, 0)));
            return null;
        }

        if (LocatedJson.Parse(file, bytes, diagnostics) is not { } root) return null;
        if (root is not JsonObjectValue rootObject)
        {
            diagnostics.Add(Expected(root, "an object with \"plugins\" and \"backends\" arrays"));
            return null;
        }
        CheckKeys(rootObject, RootKeys, diagnostics);
        var pluginsArray = RequireArray(rootObject, "plugins", diagnostics);
        var backendsArray = RequireArray(rootObject, "backends", diagnostics);
        if (pluginsArray is null || backendsArray is null) return null;

        string folder = Path.GetDirectoryName(file)!;
        var refused = new HashSet<string>(StringComparer.Ordinal);
        var plugins = Unique(pluginsArray.Items.Select(item => ReadPlugin(item, folder, diagnostics, refused)), p => p.Name, p => p.Location, "plugin", diagnostics);
        var backends = Unique(backendsArray.Items.Select(item => ReadBackend(item, diagnostics)), b => b.Name, b => b.Location, "backend", diagnostics);
        return new PluginsConfig(file, plugins, backends) { RefusedPlugins = refused };
    }

    private static PluginEntry? ReadPlugin(LocatedJson item, string folder, List<PvDiagnostic> diagnostics, HashSet<string> refused)
    {
        if (item is not JsonObjectValue entry)
        {
            diagnostics.Add(Expected(item, "a plugin object with \"name\" and \"path\""));
            return null;
        }
        int before = diagnostics.Count;
        CheckKeys(entry, PluginKeys, diagnostics);
        var name = RequireString(entry, "name", diagnostics);
        var path = RequireString(entry, "path", diagnostics);
        string? sha256 = null;
        if (OptionalString(entry, "sha256", diagnostics) is { } pin)
        {
            if (pin.Text.Length == 64 && pin.Text.All(char.IsAsciiHexDigit)) sha256 = pin.Text.ToLowerInvariant();
            else diagnostics.Add(new PvDiagnostic($"expected 64 hexadecimal digits (a SHA-256), found \"{pin.Text}\"", pin.Location));
        }
        // A NUL cannot be in a file name: the OS would cut the path there, .NET refuses it; say so at the path.
        if (path is not null && path.Text.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            diagnostics.Add(new PvDiagnostic("a plugin path cannot contain a NUL character (\\u0000)", path.Location));
        var options = ReadOptions(entry, diagnostics);
        if (diagnostics.Count > before || name is null || path is null)
        {
            if (name is not null) refused.Add(name.Text);
            return null;
        }
        return new PluginEntry(name.Text, path.Text, Path.GetFullPath(Path.Combine(folder, path.Text)), sha256, options, entry.Location, path.Location);
    }

    private static BackendEntry? ReadBackend(LocatedJson item, List<PvDiagnostic> diagnostics)
    {
        if (item is not JsonObjectValue entry)
        {
            diagnostics.Add(Expected(item, "a backend object with \"name\", \"plugin\" and \"archProfile\""));
            return null;
        }
        int before = diagnostics.Count;
        CheckKeys(entry, BackendKeys, diagnostics);
        var name = RequireString(entry, "name", diagnostics);
        var plugin = RequireString(entry, "plugin", diagnostics);
        var archProfile = RequireString(entry, "archProfile", diagnostics);
        var description = OptionalString(entry, "description", diagnostics);
        var options = ReadOptions(entry, diagnostics);
        var cost = ReadCost(entry, diagnostics);
        var kernel = ReadKernel(entry, diagnostics);
        if (diagnostics.Count > before || name is null || plugin is null || archProfile is null) return null;
        return new BackendEntry(name.Text, plugin.Text, archProfile.Text, description?.Text, options, cost,
            entry.Location, plugin.Location, archProfile.Location) { Kernel = kernel };
    }

    private static List<ConfigOption> ReadOptions(JsonObjectValue entry, List<PvDiagnostic> diagnostics)
    {
        var options = new List<ConfigOption>();
        if (OptionalObject(entry, "options", diagnostics) is not { } section) return options;
        foreach (var (key, value) in section.Members)
        {
            if (value is JsonScalarValue { ValueKind: not JsonValueKind.Null } scalar)
                options.Add(new ConfigOption(key, scalar.Text, scalar.Location));
            else
                diagnostics.Add(Expected(value, "a string, number or boolean"));
        }
        return options;
    }

    private static List<CostOverride> ReadCost(JsonObjectValue entry, List<PvDiagnostic> diagnostics)
    {
        var cost = new List<CostOverride>();
        if (OptionalObject(entry, "cost", diagnostics) is not { } section) return cost;
        // The keys are checked against the engine's and the backend's declared costs once the plugin is loaded.
        foreach (var (key, value) in section.Members)
        {
            if (value is JsonScalarValue { ValueKind: JsonValueKind.Number } number
                     && long.TryParse(number.Text, NumberStyles.None, CultureInfo.InvariantCulture, out long nanoseconds))
                cost.Add(new CostOverride(key, nanoseconds, value.Location));
            else
                diagnostics.Add(Expected(value, "a non-negative integer (in the cost's unit: simulated nanoseconds, pages)"));
        }
        return cost;
    }

    /// <summary>The backend's <c>kernel</c> section: generic-kernel era toggles (<see cref="KernelToggles"/>) set to booleans.</summary>
    private static List<KernelToggleSetting> ReadKernel(JsonObjectValue entry, List<PvDiagnostic> diagnostics)
    {
        var kernel = new List<KernelToggleSetting>();
        if (OptionalObject(entry, "kernel", diagnostics) is not { } section) return kernel;
        foreach (var (key, value) in section.Members)
        {
            if (!KernelToggles.ByKey.ContainsKey(key))
                diagnostics.Add(new PvDiagnostic(ConfigKeys.Unknown($"kernel toggle '{key}'", key, "is not a generic-kernel toggle", [.. KernelToggles.ByKey.Keys]), value.Location));
            else if (value is JsonScalarValue { ValueKind: JsonValueKind.True or JsonValueKind.False } flag)
                kernel.Add(new KernelToggleSetting(key, flag.ValueKind == JsonValueKind.True, value.Location));
            else
                diagnostics.Add(Expected(value, "true or false"));
        }
        return kernel;
    }

    /// <summary>Keeps the first entry of each name; a later one is a diagnostic pointing back at the first.</summary>
    private static List<T> Unique<T>(IEnumerable<T?> entries, Func<T, string> name, Func<T, PvConfigLocation> location, string what, List<PvDiagnostic> diagnostics)
        where T : class
    {
        var byName = new Dictionary<string, T>(StringComparer.Ordinal);
        var unique = new List<T>();
        foreach (var entry in entries)
        {
            if (entry is null) continue;
            if (byName.TryGetValue(name(entry), out var first))
            {
                diagnostics.Add(new PvDiagnostic($"duplicate {what} name '{name(entry)}' (first defined at {location(first).JsonPath})", location(entry) with { JsonPath = location(entry).JsonPath + ".name" }));
                continue;
            }
            byName.Add(name(entry), entry);
            unique.Add(entry);
        }
        return unique;
    }

    private static void CheckKeys(JsonObjectValue entry, string[] allowed, List<PvDiagnostic> diagnostics)
    {
        foreach (var (key, value) in entry.Members)
            if (!allowed.Contains(key, StringComparer.Ordinal))
                diagnostics.Add(new PvDiagnostic($"unknown key '{key}'; expected one of: {string.Join(", ", allowed)}", value.Location));
    }

    private static JsonArrayValue? RequireArray(JsonObjectValue entry, string key, List<PvDiagnostic> diagnostics)
    {
        switch (entry[key])
        {
            case JsonArrayValue array: return array;
            case null: diagnostics.Add(Missing(entry, key, "an array")); return null;
            case var other: diagnostics.Add(Expected(other, "an array")); return null;
        }
    }

    private static JsonScalarValue? RequireString(JsonObjectValue entry, string key, List<PvDiagnostic> diagnostics)
    {
        if (entry[key] is null)
        {
            diagnostics.Add(Missing(entry, key, "a non-empty string"));
            return null;
        }
        return OptionalString(entry, key, diagnostics);
    }

    private static JsonScalarValue? OptionalString(JsonObjectValue entry, string key, List<PvDiagnostic> diagnostics)
    {
        switch (entry[key])
        {
            case JsonScalarValue { ValueKind: JsonValueKind.String, Text.Length: > 0 } text: return text;
            case null: return null;
            case var other: diagnostics.Add(Expected(other, "a non-empty string")); return null;
        }
    }

    private static JsonObjectValue? OptionalObject(JsonObjectValue entry, string key, List<PvDiagnostic> diagnostics)
    {
        switch (entry[key])
        {
            case JsonObjectValue section: return section;
            case null: return null;
            case var other: diagnostics.Add(Expected(other, "an object")); return null;
        }
    }

    private static PvDiagnostic Expected(LocatedJson value, string expected)
    {
        string found = value is JsonScalarValue { ValueKind: JsonValueKind.String } s && s.Text.Length == 0 ? "an empty string" : value.Kind;
        return new PvDiagnostic($"expected {expected}, found {found}", value.Location);
    }

    private static PvDiagnostic Missing(JsonObjectValue entry, string key, string expected) =>
        new($"missing key '{key}' ({expected})", entry.Location);
}
