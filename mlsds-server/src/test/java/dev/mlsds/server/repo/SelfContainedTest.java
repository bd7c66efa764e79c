package dev.mlsds.server.repo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The repository stands on its own: no tracked file (code, tests, docs, comments, scripts, poms) points
 * at a folder beside the clone, such as a sibling {@code shared} folder of specs or test data. Whatever
 * the project needs is copied in (the MLS vectors under {@code mls-codec/src/test/resources/mlswg/}, the
 * contract as {@code docs/api.md}, the 2025 lexicon under {@code docs/reference/}).
 */
class SelfContainedTest {
  /** Written so that this file does not match itself. */
  private static final Pattern OUTSIDE = Pattern.compile(
      "\\.\\./+shared\\b|/work/+shared\\b|(?<![\\w.-])shared/(spec|background|reference|reviews|test-vectors|hooks)/"
          + "|(?<![\\w.-])shared/style\\.md");
  private static final Set<String> SKIPPED_DIRS = Set.of(".git", "target", "node_modules", "data");

  @Test
  void noTrackedFileReferencesAFolderOutsideTheRepository() throws Exception {
    Path root = repositoryRoot();
    List<String> hits = new ArrayList<>();
    List<Path> files = trackedFiles(root);
    assertThat(files).as("files under " + root).hasSizeGreaterThan(50);
    for (Path file : files) {
      if (!Files.isRegularFile(file)) {
        continue;   // deleted in the work tree but still in the index
      }
      String text = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
      String[] lines = text.split("\n", -1);
      for (int i = 0; i < lines.length; i++) {
        Matcher m = OUTSIDE.matcher(lines[i]);
        if (m.find()) {
          hits.add(root.relativize(file) + ":" + (i + 1) + ": " + lines[i].strip());
        }
      }
    }
    assertThat(hits).as("references to folders outside the repository (copy what is needed into it)").isEmpty();
  }

  @Test
  void thePatternCatchesTheFormsItIsMeantFor() {
    String up = "..";
    String sh = "sha" + "red";
    for (String bad : List.of(up + "/" + sh + "/spec/API.md", "see `" + up + "/" + sh + "`", "/work/" + sh + "/x",
        "`" + sh + "/background/lessons.md`", "(" + sh + "/spec/API.md)", sh + "/style.md")) {
      assertThat(OUTSIDE.matcher(bad).find()).as(bad).isTrue();
    }
    for (String fine : List.of("a shared secret", "shared by every stream", "Byte arrays are shared, not copied",
        "docs/api.md §3", "lexicons/blue/catbird/mls/defs.json", "-XX:SharedArchiveFile")) {
      assertThat(OUTSIDE.matcher(fine).find()).as(fine).isFalse();
    }
  }

  /** The clone's top folder: the nearest parent of the working directory with a {@code pom.xml} and {@code mlsds}. */
  static Path repositoryRoot() {
    for (Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("pom.xml")) && Files.isRegularFile(p.resolve("mlsds"))
          && Files.isDirectory(p.resolve("lexicons"))) {
        return p;
      }
    }
    throw new IllegalStateException("no repository root above " + System.getProperty("user.dir"));
  }

  /** {@code git ls-files} when this is a git checkout, else every file but build output (a source tarball). */
  private static List<Path> trackedFiles(Path root) throws IOException, InterruptedException {
    if (Files.exists(root.resolve(".git"))) {
      Process git = new ProcessBuilder("git", "-C", root.toString(), "ls-files", "-z")
          .redirectError(ProcessBuilder.Redirect.DISCARD).start();
      byte[] out = git.getInputStream().readAllBytes();
      if (git.waitFor() == 0) {
        List<Path> files = new ArrayList<>();
        for (String name : new String(out, StandardCharsets.UTF_8).split("\0")) {
          if (!name.isEmpty()) {
            files.add(root.resolve(name));
          }
        }
        return files;
      }
    }
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(Files::isRegularFile)
          .filter(p -> {
            for (Path part : root.relativize(p)) {
              if (SKIPPED_DIRS.contains(part.toString())) {
                return false;
              }
            }
            return true;
          })
          .toList();
    }
  }
}
