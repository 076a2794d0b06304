import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ApiClient } from "./api";
import { App } from "./App";
import { loadConfig } from "./config";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);
void loadConfig().then(({ config, warning }) =>
  root.render(
    <StrictMode>
      <App
        client={new ApiClient({ baseUrl: config.apiBaseUrl })}
        refreshMs={config.refreshSeconds * 1000}
        configWarning={warning}
        docsUrl={config.docsUrl}
      />
    </StrictMode>,
  ),
);
