// Runs, when a backend's provider is built (BackendHost.Build), the option validation a plugin asked for with the Options pattern
// (OptionsBuilder.ValidateOnStart registers IStartupValidator), so a bad value fails composition before any step
// runs. What it throws becomes a PluginOptionsException (bad input) located at the option in plugins.json, as every other
// plugins.json diagnostic is: a binder conversion error (a boolean that is not true/false, an era that is not a
// kernel version) names the key, the value found and what the property's type accepts; an IValidateOptions
// failure is located at the first option key it names in single quotes, with the value found.
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Pv.Hosting.Composition;

/// <summary>Validates a backend's bound options on a built provider.</summary>
public static partial class PluginOptionsValidation
{
    /// <summary>Runs the provider's <see cref="IStartupValidator"/>, if the plugin registered one.</summary>
    /// <param name="services">The backend's root provider, just built.</param>
    /// <param name="backend">The backend whose options were bound.</param>
    /// <exception cref="PluginOptionsException">An option's value does not convert or its validation failed.</exception>
    public static void Validate(IServiceProvider services, ResolvedBackend backend)
    {
        if (services.GetService<IStartupValidator>() is not { } validator) return;
        try
        {
            validator.Validate();
        }
        catch (OptionsValidationException e)
        {
            throw Refused(backend, e.Failures, e);
        }
        catch (AggregateException e) when (e.InnerExceptions.All(i => i is OptionsValidationException))
        {
            throw Refused(backend, e.InnerExceptions.SelectMany(i => ((OptionsValidationException)i).Failures), e);
        }
        catch (InvalidOperationException e) when (BinderError().Match(e.Message) is { Success: true } m)
        {
            // The binder names the property it was binding; option keys are its name in camelCase.
            string property = m.Groups["path"].Value;
            string key = backend.Options.Keys.FirstOrDefault(k => string.Equals(k, property, StringComparison.OrdinalIgnoreCase)) ?? property;
            throw new PluginOptionsException(backend.Plugin.Name, backend.Name,
                $"option '{key}': found '{m.Groups["value"].Value}'; expected {Expected(m.Groups["type"].Value)}", Where(backend, key), e);
        }
    }

    /// <summary>One exception for every failure, located at the first option key a failure names.</summary>
    private static PluginOptionsException Refused(ResolvedBackend backend, IEnumerable<string> failures, Exception inner)
    {
        var list = failures.ToList();
        string? key = list.SelectMany(f => QuotedKey().Matches(f)).Select(q => q.Groups["key"].Value)
            .FirstOrDefault(k => backend.OptionLocations.ContainsKey(k))
            ?? list.SelectMany(f => QuotedKey().Matches(f)).Select(q => q.Groups["key"].Value).FirstOrDefault(backend.Options.ContainsKey);
        string found = key is not null && backend.Options.TryGetValue(key, out var value) ? $" (found '{value}')" : "";
        return new PluginOptionsException(backend.Plugin.Name, backend.Name, string.Join("; ", list) + found, Where(backend, key), inner);
    }

    /// <summary>The option's value in plugins.json; the backend's entry when the key was not set there.</summary>
    private static PvConfigLocation Where(ResolvedBackend backend, string? key) =>
        key is not null && backend.OptionLocations.TryGetValue(key, out var at) ? at : backend.Entry.Location;

    /// <summary>What a value of the binder's target type looks like, for the message.</summary>
    private static string Expected(string type) => type switch
    {
        "System.Boolean" => "true or false",
        "System.Version" => "a kernel version such as 6.6 or 2.6.39",
        "System.Int32" or "System.Int64" => "an integer",
        _ => $"a value of type {type}",
    };

    // Microsoft.Extensions.Configuration.Binder's "Failed to convert configuration value '{value}' at '{path}' to type '{type}'."
    [GeneratedRegex("configuration value '(?<value>.*)' at '(?<path>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex BinderError();

    [GeneratedRegex("'(?<key>[A-Za-z][A-Za-z0-9]*)'")]
    private static partial Regex QuotedKey();
}
