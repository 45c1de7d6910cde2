package dev.loomdb.edge.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * Headless Chromium on a node's live view, through Debian's {@code chromium} and {@code chromium-driver}
 * (no download). Without them a test is skipped with that message, unless {@code LOOM_IT_BROWSER=required}
 * (set by {@code .ci/run}) makes their absence a failure.
 */
public final class Browser implements AutoCloseable {

    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path DRIVER = Path.of("/usr/bin/chromedriver");

    private final ChromeDriver driver;

    private Browser(ChromeDriver driver) {
        this.driver = driver;
    }

    public static boolean installed() {
        return Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER);
    }

    /** Skips the calling test when Chromium is missing (fails it when the browser is required). */
    public static void assumeInstalled() {
        if ("required".equals(System.getenv("LOOM_IT_BROWSER"))) {
            assertTrue(
                    installed(),
                    "LOOM_IT_BROWSER=required but " + CHROMIUM + " or " + DRIVER
                            + " is missing: apt-get install chromium chromium-driver");
        }
        Assumptions.assumeTrue(installed(), "Chromium is not installed (apt-get install chromium chromium-driver)");
    }

    /** Opens the node's live view and waits until it follows the event stream. */
    public static Browser openLiveView(NodeProcess node) {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments(
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                "--window-size=1280,800");
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort()
                .build();
        Browser browser = new Browser(new ChromeDriver(service, options));
        browser.driver.get("http://127.0.0.1:" + node.httpPort() + "/");
        await().atMost(Duration.ofSeconds(15))
                .until(() -> Boolean.TRUE.equals(browser.script("return window.loomView && window.loomView.live")));
        return browser;
    }

    public ChromeDriver driver() {
        return driver;
    }

    public Object script(String js) {
        return ((JavascriptExecutor) driver).executeScript(js);
    }

    /** Saves what the page shows as a PNG. */
    public void screenshot(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.write(file, driver.getScreenshotAs(OutputType.BYTES));
    }

    @Override
    public void close() {
        driver.quit();
    }
}
