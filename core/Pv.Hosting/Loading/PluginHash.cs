// The optional sha256 pin of a plugin assembly: computed over the file's bytes before anything of it is
// loaded, so a mismatching file is refused without running any of its code.
using System.Security.Cryptography;
using Pv.Hosting.Config;

namespace Pv.Hosting.Loading;

/// <summary>How a plugin assembly's SHA-256 compares with its pin in plugins.json.</summary>
public enum PluginHashStatus
{
    /// <summary>No pin in plugins.json.</summary>
    Unpinned,
    /// <summary>The pin matches the file.</summary>
    PinnedOk,
    /// <summary>The pin does not match the file; the plugin is refused.</summary>
    Mismatch,
    /// <summary>The file could not be read, so no hash was computed.</summary>
    NotComputed,
}

/// <summary>SHA-256 of plugin assemblies.</summary>
public static class PluginHash
{
    /// <summary>The lower-case hexadecimal SHA-256 of the file at <paramref name="path"/>.</summary>
    /// <exception cref="InputFileException">The file cannot be read or is larger than <see cref="InputFile.MaxAssemblyBytes"/>.</exception>
    public static string Compute(string path)
    {
        using var stream = InputFile.Open(path);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        InputFile.ForEachChunk(stream, InputFile.MaxAssemblyBytes, path, hash.AppendData);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Compares <paramref name="actual"/> with <paramref name="pinned"/> (null: unpinned).</summary>
    public static PluginHashStatus Compare(string actual, string? pinned) =>
        pinned is null ? PluginHashStatus.Unpinned
        : string.Equals(actual, pinned, StringComparison.OrdinalIgnoreCase) ? PluginHashStatus.PinnedOk
        : PluginHashStatus.Mismatch;
}
