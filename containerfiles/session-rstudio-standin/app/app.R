# A small shiny app: a page, and a reactive round trip over shiny's WebSocket.
library(shiny)

ui <- fluidPage(
  titlePanel("VISP R session"),
  numericInput("n", "n", value = 6),
  textOutput("answer")
)

server <- function(input, output, session) {
  output$answer <- renderText(paste("n * 7 =", input$n * 7))
}

shinyApp(ui, server)
