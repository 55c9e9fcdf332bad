using System.Globalization;

namespace Paxos.Sample;

/// <summary>A command line that cannot be run; the message says why, for the person who typed it.</summary>
internal sealed class UsageException : Exception
{
    public UsageException()
    {
    }

    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The options of one command, parsed from <c>--name value</c>, <c>--name=value</c> and <c>--flag</c>. Only the
/// names the command declares are accepted, each once; values are checked by the typed getters, which name the
/// option and its range when a value does not fit.
/// </summary>
internal sealed class CommandOptions
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    private CommandOptions()
    {
    }

    /// <summary>Parses <paramref name="args"/> against the declared <paramref name="flags"/> (no value) and
    /// <paramref name="options"/> (one value each).</summary>
    /// <exception cref="UsageException">An unknown or repeated name, a missing value, or a stray argument.</exception>
    public static CommandOptions Parse(IReadOnlyList<string> args, IReadOnlyCollection<string> flags, IReadOnlyCollection<string> options)
    {
        var line = new CommandOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new UsageException($"Unexpected argument '{arg}'. Options start with --.");
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals > 0 ? arg[2..equals] : arg[2..];
            string? value = equals > 0 ? arg[(equals + 1)..] : null;
            if (flags.Contains(name))
            {
                if (value is not null)
                {
                    throw new UsageException($"--{name} takes no value.");
                }
            }
            else if (options.Contains(name))
            {
                if (value is null)
                {
                    if (i + 1 >= args.Count)
                    {
                        throw new UsageException($"--{name} needs a value.");
                    }

                    value = args[++i];
                }
            }
            else
            {
                throw new UsageException($"Unknown option --{name} here.");
            }

            if (!line._values.TryAdd(name, value))
            {
                throw new UsageException($"--{name} is given twice.");
            }
        }

        return line;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Text(string name) => _values.TryGetValue(name, out var value) ? value : null;

    public int Int(string name, int fallback, int min, int max) => (int)Long(name, fallback, min, max);

    public long Long(string name, long fallback, long min, long max)
    {
        if (Text(name) is not { } text)
        {
            return fallback;
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException($"--{name} must be a whole number from {min} to {max}; got '{text}'.");
        }

        return value;
    }
}
