// Where `pv` finds plugins.json when --config is not given: the current directory first, else the root
// of the Pv repository above it (the nearest folder holding Pv.sln), so commands work from any subfolder.
namespace Pv.Cli;

/// <summary>Finds the default plugins.json.</summary>
internal static class ConfigLocator
{
    /// <summary>The file name looked for.</summary>
    public const string FileName = "plugins.json";

    /// <summary>The default plugins.json for <paramref name="currentDirectory"/>, or null if there is none.</summary>
    public static string? Find(string currentDirectory)
    {
        string here = Path.Combine(currentDirectory, FileName);
        if (File.Exists(here)) return here;
        for (var dir = new DirectoryInfo(currentDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Pv.sln"))) continue;
            string atRoot = Path.Combine(dir.FullName, FileName);
            return File.Exists(atRoot) ? atRoot : null;
        }
        return null;
    }
}
