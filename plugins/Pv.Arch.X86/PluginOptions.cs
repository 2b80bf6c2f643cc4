// Reading a backend's options (plugins.json, through IConfiguration) with errors that name the option, the
// value found and what was expected. Shared by the plugins that carry this library; the host has already
// rejected keys a backend does not declare.
using Microsoft.Extensions.Configuration;

namespace Pv.Arch.X86;

/// <summary>Typed reads of plugin options.</summary>
public static class PluginOptions
{
    /// <summary>The boolean option <paramref name="key"/>, or <paramref name="fallback"/> when absent.</summary>
    /// <exception cref="ArgumentException">The value is not <c>true</c> or <c>false</c>.</exception>
    public static bool Bool(IConfiguration options, string key, bool fallback)
    {
        string? text = options[key];
        if (text is null) return fallback;
        return bool.TryParse(text, out bool value)
            ? value
            : throw new ArgumentException($"option '{key}': '{text}' is not a boolean; expected true or false");
    }

    /// <summary>The option <paramref name="key"/>, which must be one of <paramref name="allowed"/>'s keys; <paramref name="fallback"/> when absent.</summary>
    /// <exception cref="ArgumentException">The value is not one of the allowed names.</exception>
    public static T OneOf<T>(IConfiguration options, string key, IReadOnlyDictionary<string, T> allowed, T fallback)
    {
        string? text = options[key];
        if (text is null) return fallback;
        return allowed.TryGetValue(text, out var value)
            ? value
            : throw new ArgumentException($"option '{key}': '{text}' is not allowed; expected one of {string.Join(", ", allowed.Keys)}");
    }
}
