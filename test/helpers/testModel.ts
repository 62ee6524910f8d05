export { TEST_CACHE, tinyModelPath } from "../../src/model/tinyModel.js";
